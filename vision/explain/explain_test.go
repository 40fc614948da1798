package explain

import (
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/locked"
	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
	"github.com/drgrade/drgrade/internal/testutil"
	"github.com/drgrade/drgrade/internal/torchext"
	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/models"
)

// camTol bounds max |drgrade − grad-cam| / max |grad-cam heatmap| (the heatmaps are scaled to
// [0, 1], so it is an absolute bound). Both sides run libtorch 2.1's float32 CPU kernels, on
// the same weights and input, through different call paths (drgrade's logits agree with
// torchvision's within 1e-4, mostly ~1e-6); the CAM itself is float64 here, float32 NumPy
// there. The measured worst differences are in the test logs and docs/evaluation.md.
const camTol = 1e-4

// golden is the committed golden directory: the OpenCV steps and shufflenet_small
// (1.5 MB of weights) at 96 px.
const golden = "testdata/gradcam"

var goldenArgs = []string{"--opencv", "--models", "shufflenet_small", "--size", "96"}

// liveModels are compared with grad-cam under `make parity` only (their weights are too big to
// commit): one ResNet, DenseNet, EfficientNetV2, ConvNeXt, Swin and ViT, and MobileNetV3.
var liveModels = []string{"resnet_small", "densenet_tiny", "efficient_v2_small", "convnext_tiny",
	"swin_transformer_tiny", "vision_transformer_small", "mobilenet_v3"}

// TestParityGradCAMGoldens compares with the committed goldens (live with DRGRADE_PARITY=1):
// OpenCV's Jet colormap, cv2.resize, show_cam_on_image, and GradCAM on shufflenet_small.
func TestParityGradCAMGoldens(t *testing.T) {
	dir := pyoracle.Golden(t, golden, "testdata/gradcam_gen.py", goldenArgs...)
	t.Run("jet", func(t *testing.T) {
		want := readNpy(t, filepath.Join(dir, "jet.npy"))
		for i := 0; i < 256; i++ {
			for c := 0; c < 3; c++ {
				if w := uint8(want.I64[3*i+c]); jet[i][c] != w {
					t.Errorf("jet[%d][%d] = %d, cv2.COLORMAP_JET gives %d", i, c, jet[i][c], w)
				}
			}
		}
	})
	t.Run("cammath", func(t *testing.T) {
		acts, _ := filepath.Glob(filepath.Join(dir, "cammath_*_acts.npy"))
		if len(acts) == 0 {
			t.Fatal("no cammath cases")
		}
		for _, p := range acts {
			a := readNpy(t, p)
			g := readNpy(t, strings.TrimSuffix(p, "_acts.npy")+"_grads.npy")
			want := readNpy(t, strings.TrimSuffix(p, "_acts.npy")+"_out.npy")
			maps := camMaps(a.F32, g.F32, a.Shape, want.Shape[1], want.Shape[2])
			var got []float32
			for _, m := range maps {
				got = append(got, m.Data...)
			}
			d := maxAbsDiff(got, want.F32)
			t.Logf("%s: max |diff| = %.3g", filepath.Base(p), d)
			if d > 1e-6 {
				t.Errorf("%s: the CAM arithmetic differs from grad-cam's by %.3g", filepath.Base(p), d)
			}
		}
	})
	t.Run("resize", func(t *testing.T) {
		ins, _ := filepath.Glob(filepath.Join(dir, "resize_*_in.npy"))
		if len(ins) == 0 {
			t.Fatal("no resize cases")
		}
		for _, in := range ins {
			src := readNpy(t, in)
			want := readNpy(t, strings.TrimSuffix(in, "_in.npy")+"_out.npy")
			got := resizeLinear(src.F32, src.Shape[0], src.Shape[1], want.Shape[0], want.Shape[1])
			d := maxAbsDiff(got, want.F32)
			t.Logf("%s: max |diff| = %.3g", filepath.Base(in), d)
			if d > 1e-6 {
				t.Errorf("%s: resizeLinear differs from cv2.resize by %.3g", filepath.Base(in), d)
			}
		}
	})
	t.Run("overlay", func(t *testing.T) {
		imgs, _ := filepath.Glob(filepath.Join(dir, "overlay_*_img.npy"))
		if len(imgs) == 0 {
			t.Fatal("no overlay cases")
		}
		for _, p := range imgs {
			a := readNpy(t, p)
			cam := readNpy(t, strings.TrimSuffix(p, "_img.npy")+"_cam.npy")
			want := readNpy(t, strings.TrimSuffix(p, "_img.npy")+"_out.npy")
			h, w := a.Shape[0], a.Shape[1]
			img := imageio.NewRGB(w, h)
			for i, v := range a.I64 {
				img.Pix[i] = uint8(v)
			}
			got, err := Overlay(img, Map{H: h, W: w, Data: cam.F32})
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := 0; i < h*w; i++ {
				for c := 0; c < 3; c++ {
					if got.Pix[4*i+c] != uint8(want.I64[3*i+c]) {
						bad++
					}
				}
			}
			if bad > 0 {
				t.Errorf("%s: %d of %d values differ from show_cam_on_image", filepath.Base(p), bad, 3*h*w)
			}
		}
	})
	t.Run("shufflenet_small", func(t *testing.T) { compareGradCAM(t, dir, "shufflenet_small") })
}

// TestParityGradCAMLive compares GradCAM with pytorch_grad_cam.GradCAM on the live models
// (`make parity`; skipped otherwise).
func TestParityGradCAMLive(t *testing.T) {
	start := time.Now()
	dir := pyoracle.LiveDir(t, "testdata/gradcam_gen.py", "--models", strings.Join(liveModels, ","), "--size", "128")
	t.Logf("generator: %s", time.Since(start).Round(time.Second))
	for _, name := range liveModels {
		t.Run(name, func(t *testing.T) { compareGradCAM(t, dir, name) })
	}
	t.Logf("total: %s", time.Since(start).Round(time.Second))
}

// compareGradCAM loads the generator's weights and input for name and compares GradCAM for
// the predicted grades and for the generator's explicit ones.
func compareGradCAM(t *testing.T, dir, name string) {
	var meta struct {
		Layers map[string]struct {
			Shape   []int `json:"shape"`
			Pred    []int `json:"pred"`
			Targets []int `json:"targets"`
		} `json:"layers"`
	}
	pyoracle.ReadJSON(t, dir, "meta.json", &meta)
	ref, ok := meta.Layers[name]
	if !ok {
		t.Fatalf("meta.json has no %s", name)
	}
	locked.Run(func() {
		m, err := models.New(name, 5)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		r, err := models.LoadWeights(m, filepath.Join(dir, name+".pth"), models.HeadSlice)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Missing)+len(r.Unexpected) > 0 {
			t.Fatalf("load: %s", r)
		}
		x := readTensor(t, filepath.Join(dir, name+"_x.npy"))
		defer x.MustDrop()
		for _, run := range []struct {
			file    string
			targets []int
			want    []int
		}{{"cam_pred", nil, ref.Pred}, {"cam_target", ref.Targets, ref.Targets}} {
			res, err := GradCAM(m, x, run.targets)
			if err != nil {
				t.Fatal(err)
			}
			want := readNpy(t, filepath.Join(dir, name+"_"+run.file+".npy"))
			n, h, w := want.Shape[0], want.Shape[1], want.Shape[2]
			if len(res) != n {
				t.Fatalf("%d results for %d images", len(res), n)
			}
			worst := 0.0
			for i, r := range res {
				if r.Target != run.want[i] {
					t.Errorf("%s image %d: target %d, grad-cam explains %d", run.file, i, r.Target, run.want[i])
				}
				if r.H != h || r.W != w {
					t.Fatalf("heatmap %d×%d, grad-cam's %d×%d", r.H, r.W, h, w)
				}
				if c := ref.Shape; r.CAMH != c[2] || r.CAMW != c[3] {
					t.Errorf("activation map %d×%d, grad-cam's %d×%d", r.CAMH, r.CAMW, c[2], c[3])
				}
				wi := want.F32[i*h*w : (i+1)*h*w]
				d := maxAbsDiff(r.Data, wi) / float64(max(maxAbs(wi), 1e-30)) // an all-zero map: absolute
				worst = max(worst, d)
			}
			t.Logf("%s %s (%s, %d×%d map): max |diff| / max = %.3g", name, run.file, res[0].Layer, res[0].CAMH, res[0].CAMW, worst)
			if worst > camTol || math.IsNaN(worst) {
				t.Errorf("%s %s: max |diff| / max = %.3g > %g", name, run.file, worst, camTol)
			}
		}
	})
}

// TestCAMLayers checks every family's CAM layer without PyTorch, at 96 px (ViT 224, ZFNet
// 224): the activation has the channels and map of the module grad-cam hooks; the logits
// equal the model's forward; and where the head is a global average pool (then linear layers),
// the gradient at the layer is the same at every position of a channel: a cut one layer too
// early would not give that.
func TestCAMLayers(t *testing.T) {
	cases := []struct {
		name    string
		size    int
		shape   []int64 // the activation, in the layer's layout (batch 1)
		uniform bool    // global-average-pool head: spatially constant gradient
	}{
		{"resnet_small", 96, []int64{1, 512, 3, 3}, true},
		{"resnext", 96, []int64{1, 2048, 3, 3}, true},
		{"densenet_tiny", 96, []int64{1, 1024, 3, 3}, true},
		{"efficient_v2_small", 96, []int64{1, 1280, 3, 3}, true},
		{"convnext_tiny", 96, []int64{1, 768, 3, 3}, true},
		{"swin_transformer_tiny", 96, []int64{1, 3, 3, 768}, false},
		{"vision_transformer_small", 224, []int64{1, 50, 768}, false},
		{"alexnet", 96, []int64{1, 256, 2, 2}, false},
		{"vgg_tiny", 96, []int64{1, 512, 3, 3}, false},
		{"googlenet", 96, []int64{1, 1024, 3, 3}, true},
		{"xception", 96, []int64{1, 2048, 3, 3}, true},
		{"mobilenet_v3", 96, []int64{1, 576, 3, 3}, true},
		{"mobilenet_v3_large", 96, []int64{1, 960, 3, 3}, true},
		{"shufflenet_small", 96, []int64{1, 1024, 3, 3}, true},
	}
	if !testing.Short() {
		cases = append(cases, struct {
			name    string
			size    int
			shape   []int64
			uniform bool
		}{"zfnet", 224, []int64{1, 512, 13, 13}, false})
	}
	seen := map[string]bool{}
	for _, c := range cases {
		cfg, err := models.Lookup(c.name)
		if err != nil {
			t.Fatal(err)
		}
		seen[cfg.Arch] = true
		t.Run(c.name, func(t *testing.T) {
			locked.Run(func() { checkCAMLayer(t, c.name, c.size, c.shape, c.uniform) })
		})
	}
	// Every zoo model has a layer, and a model of its family is checked above.
	if testing.Short() {
		seen["zfnet"] = true
	}
	for _, n := range models.Names() {
		if n == testModel {
			continue
		}
		if _, err := TargetLayer(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		cfg, _ := models.Lookup(n)
		covered := false
		for a := range seen {
			if familyOf(a) == familyOf(cfg.Arch) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("%s (%s): no model of its family in TestCAMLayers", n, cfg.Arch)
		}
	}
}

// familyOf is an architecture's family: its name up to the first digit or underscore-size.
func familyOf(arch string) string {
	for _, p := range []string{"resnext", "resnet", "densenet", "efficientnet_v2", "convnext", "swin", "vit", "vgg", "mobilenet_v3", "shufflenet_v2"} {
		if strings.HasPrefix(arch, p) {
			return p
		}
	}
	return arch
}

func checkCAMLayer(t *testing.T, name string, size int, shape []int64, uniform bool) {
	torchext.ManualSeed(1)
	m, err := models.New(name, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x, err := ts.Randn([]int64{1, 3, int64(size), int64(size)}, gotch.Float, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer x.MustDrop()
	want := func() []float32 {
		defer torchext.NoGrad()()
		y, err := m.ForwardT(x, false)
		if err != nil {
			t.Fatal(err)
		}
		defer y.MustDrop()
		v, err := hostFloats(y)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}()
	act, logits, layer, err := models.CAMForward(m, x)
	if err != nil {
		t.Fatal(err)
	}
	defer act.MustDrop()
	defer logits.MustDrop()
	if got := act.MustSize(); fmt.Sprint(got) != fmt.Sprint(shape) {
		t.Errorf("%s (%s): activation %v, want %v", name, layer, got, shape)
	}
	got, err := hostFloats(logits)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(got, want) / float64(maxAbs(want)); d > 1e-5 {
		t.Errorf("%s: logits through the CAM layer differ from the forward by %.3g", name, d)
	}
	res, err := GradCAM(m, x, []int{2})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.H != size || r.W != size || r.Target != 2 || len(r.Probs) != 5 {
		t.Errorf("result %d×%d target %d, %d probabilities", r.H, r.W, r.Target, len(r.Probs))
	}
	t.Logf("%s: %s, activation %v", name, layer, act.MustSize())
	if !uniform {
		return
	}
	// The gradient of logit 2 at the layer.
	var s []*ts.Tensor
	defer func() {
		for _, v := range s {
			v.MustDrop()
		}
	}()
	sel := logits.MustSelect(1, 2, false)
	s = append(s, sel)
	score := sel.MustSum(sel.DType(), false)
	s = append(s, score)
	grads, err := ts.RunBackward([]*ts.Tensor{score}, []*ts.Tensor{act}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	s = append(s, grads...)
	_, g, sh, err := nchwFloats(layer, act, grads[0])
	if err != nil {
		t.Fatal(err)
	}
	p := sh[2] * sh[3]
	worst, scale := 0.0, 0.0
	for c := 0; c < sh[1]; c++ {
		gs := g[c*p : (c+1)*p]
		for j := range gs {
			scale = max(scale, math.Abs(float64(gs[j])))
			worst = max(worst, math.Abs(float64(gs[j]-gs[0])))
		}
	}
	if scale == 0 || worst > 1e-6*scale {
		t.Errorf("%s: the gradient at %s varies over the positions of a channel by %.3g (scale %.3g): not the layer before a global pool", name, layer, worst, scale)
	}
}

// testModel is registered by TestTargetLayerErrors: a model outside the zoo.
const testModel = "explain_test_model"

// TestTargetLayerErrors: an unknown model and a model outside the zoo are errors.
func TestTargetLayerErrors(t *testing.T) {
	if _, err := TargetLayer("resnett"); err == nil {
		t.Error("an unknown model has a target layer")
	}
	err := models.Register(testModel, func(int) (models.Model, error) { return nil, fmt.Errorf("unused") }, models.Config{Arch: "resnet50"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TargetLayer(testModel); err == nil || !strings.Contains(err.Error(), "no Grad-CAM layer") {
		t.Errorf("a model outside the zoo: %v, want no Grad-CAM layer", err)
	}
	if got, err := TargetLayer("swin_transformer_tiny"); err != nil || got != "features[-1] (NHWC, permuted to NCHW)" {
		t.Errorf("swin: %q, %v", got, err)
	}
}

func TestScaleAndResize(t *testing.T) {
	// A constant map scales to zeros (grad-cam's 1e-7 guard), not NaN.
	z := scaleCAM([]float32{2, 2, 2, 2})
	for _, v := range z {
		if v != 0 {
			t.Fatalf("constant map scaled to %v", z)
		}
	}
	// Upscaling by an integer factor: pixel centres map to half-pixel positions, edges clamp.
	got := resizeLinear([]float32{0, 1}, 1, 2, 1, 4)
	want := []float32{0, 0.25, 0.75, 1}
	if maxAbsDiff(got, want) > 1e-7 {
		t.Errorf("resize [0 1] to 4: %v, want %v", got, want)
	}
}

func readNpy(t testing.TB, path string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func readTensor(t testing.TB, path string) *ts.Tensor {
	t.Helper()
	a := readNpy(t, path)
	shape := make([]int64, len(a.Shape))
	for i, d := range a.Shape {
		shape[i] = int64(d)
	}
	x, err := torchext.FromSlice(a.F32, shape)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func maxAbs(a []float32) float32 {
	var m float32
	for _, v := range a {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return m
}

// TestGradCAMFreesTensors: GradCAM drops every tensor it makes (docs/ownership.md), on the
// layouts' different paths (NCHW, the DenseNet mask, Swin's NHWC, ViT's tokens and residual),
// and leaves none to the collector but gotch's Scalars.
func TestGradCAMFreesTensors(t *testing.T) {
	for _, c := range []struct {
		name string
		size int64
	}{{"shufflenet_small", 64}, {"densenet_tiny", 64}, {"swin_transformer_tiny", 64}, {"vision_transformer_small", 224}} {
		t.Run(c.name, func(t *testing.T) {
			locked.Run(func() {
				m, err := models.New(c.name, 5)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				x, err := ts.Randn([]int64{2, 3, c.size, c.size}, gotch.Float, gotch.CPU)
				if err != nil {
					t.Fatal(err)
				}
				defer x.MustDrop()
				if _, err := GradCAM(m, x, nil); err != nil { // warm-up
					t.Fatal(err)
				}
				runtime.GC()
				live0, fin0, sc0 := len(ts.ExistingTensors), testutil.FinalizersQueued(), atomic.LoadInt64(&ts.ScalarCount)
				for i := 0; i < 2; i++ {
					if _, err := GradCAM(m, x, []int{1, -1}); err != nil {
						t.Fatal(err)
					}
				}
				runtime.GC()
				live1, fin1, sc1 := len(ts.ExistingTensors), testutil.FinalizersQueued(), atomic.LoadInt64(&ts.ScalarCount)
				if live1 != live0 {
					t.Errorf("live tensors %d → %d over two GradCAM calls", live0, live1)
				}
				if f, s := int64(fin1-fin0), sc1-sc0; f != s {
					t.Errorf("%d objects left to their finalizer, %d gotch Scalars made: tensors left to the collector", f, s)
				}
			})
		})
	}
}

// TestDenormalizeAndStems: Denormalize recovers the pixels Normalize saw; Stems keeps names
// apart.
func TestDenormalizeAndStems(t *testing.T) {
	mean, std := [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
	const h, w = 5, 7
	chw := make([]float32, 3*h*w)
	want := imageio.NewRGB(w, h)
	for i := range want.Pix {
		want.Pix[i] = uint8(i * 37 % 256)
	}
	for c := 0; c < 3; c++ {
		for i := 0; i < h*w; i++ { // ToTensor + Normalize in float32
			chw[c*h*w+i] = (float32(want.Pix[3*i+c])/255 - mean[c]) / std[c]
		}
	}
	got, err := Denormalize(chw, h, w, mean, std)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Pix) != string(want.Pix) {
		t.Errorf("Denormalize: %v, want %v", got.Pix, want.Pix)
	}
	if _, err := Denormalize(chw[1:], h, w, mean, std); err == nil {
		t.Error("a short slice is accepted")
	}
	if got := Stems([]string{"a/x.jpg", "b/x.png", "x_2.jpg", "c/x.JPG", "y"}); fmt.Sprint(got) != "[x x_2 x_2_2 x_3 y]" {
		t.Errorf("Stems: %v", got)
	}
}
