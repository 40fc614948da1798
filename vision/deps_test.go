package vision

import (
	"os/exec"
	"strings"
	"testing"
)

// imageSide are the packages up to the loader: they decode, transform, label and batch images,
// and must not link libtorch (doc.go). Their C is internal/imagec's (libjpeg-turbo, libc).
var imageSide = []string{
	"github.com/drgrade/drgrade/vision/dataset",
	"github.com/drgrade/drgrade/vision/imageio",
	"github.com/drgrade/drgrade/vision/loader",
	"github.com/drgrade/drgrade/vision/mixup",
	"github.com/drgrade/drgrade/vision/preprocess",
	"github.com/drgrade/drgrade/vision/synth",
	"github.com/drgrade/drgrade/vision/transforms",
}

// libtorchSide are the import paths whose presence means libtorch is linked.
var libtorchSide = []string{
	"github.com/sugarme/gotch",
	"github.com/drgrade/drgrade/internal/torchext",
}

// TestImageSideLinksNoLibtorch: `go list -deps` of the image side (default build: cgo on) names
// neither gotch nor internal/torchext, so decoding a JPEG or resizing an image does not link
// libtorch.
func TestImageSideLinksNoLibtorch(t *testing.T) {
	goTool, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		t.Fatalf("the go command is needed to list the image side's imports: %v", err)
	}
	for _, pkg := range imageSide {
		cmd := exec.Command(goTool, "list", "-deps", pkg)
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=1")
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 || deps[len(deps)-1] != pkg {
			t.Fatalf("go list -deps %s printed %d packages, not ending with %s", pkg, len(deps), pkg)
		}
		for _, d := range deps {
			for _, bad := range libtorchSide {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("%s imports %s (go list -deps): the image side must not link libtorch", pkg, d)
				}
			}
		}
	}
}
