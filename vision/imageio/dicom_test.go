package imageio

import (
	"bytes"
	"errors"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drgrade/drgrade/internal/npy"
	"github.com/drgrade/drgrade/internal/pyoracle"
)

type dicomManifest struct {
	Files map[string]struct {
		TransferSyntax string `json:"transfer_syntax"`
		Photometric    string
		Refused        bool
	}
	PatientName string `json:"patient_name"`
	PatientID   string `json:"patient_id"`
}

// TestParityDICOM: every file written by testdata/dicom_gen.py with pydicom (uncompressed
// implicit/explicit little and big endian; JPEG baseline; RGB planar and interleaved,
// YBR_FULL, YBR_FULL_422, MONOCHROME2 8 and 16 bit) decodes to exactly the pixels of pydicom's
// pixel_array converted by Pillow, with the libjpeg-turbo decoder; with the pure-Go decoder the
// JPEG ones within its documented JPEG gap (3 levels).
func TestParityDICOM(t *testing.T) {
	dir := pyoracle.Golden(t, "testdata/dicom", "testdata/dicom_gen.py")
	var m dicomManifest
	pyoracle.ReadJSON(t, dir, "dicom.json", &m)
	n := 0
	for name, f := range m.Files {
		if f.Refused {
			continue
		}
		n++
		for _, jd := range JPEGDecoders() {
			t.Run(name+"/"+string(jd), func(t *testing.T) {
				want, err := npy.ReadFile(filepath.Join(dir, strings.TrimSuffix(name, ".dcm")+".npy"))
				if err != nil {
					t.Fatal(err)
				}
				got, err := Decoder{JPEG: jd}.Decode(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if len(want.Shape) != 3 || got.W != want.Shape[1] || got.H != want.Shape[0] {
					t.Fatalf("size %dx%d, want shape %v", got.W, got.H, want.Shape)
				}
				ref := want.I64
				tol := 0
				if jd == PureGo && strings.HasPrefix(name, "jpeg") {
					tol = 3
				}
				worst, at := 0, -1
				for i, v := range got.Pix {
					if d := absInt(int(v) - int(ref[i])); d > worst {
						worst, at = d, i
					}
				}
				if worst > tol {
					t.Errorf("%s (%s): max difference %d at pixel %d channel %d (got %d, pydicom %d), tolerance %d",
						name, f.Photometric, worst, at/3, at%3, got.Pix[at], ref[at], tol)
				}
				w, h, err := Decoder{JPEG: jd}.Check(filepath.Join(dir, name))
				if err != nil || w != got.W || h != got.H {
					t.Errorf("Check = %d, %d, %v", w, h, err)
				}
			})
		}
	}
	if n < 14 {
		t.Fatalf("only %d DICOM files in the manifest", n)
	}
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestDICOMRefusedAndPrivate: unsupported transfer syntaxes are refused naming the file and the
// syntax; broken files are errors; and no message, for good or bad files, contains the
// patient's name or ID.
func TestDICOMRefusedAndPrivate(t *testing.T) {
	dir := "testdata/dicom"
	var m dicomManifest
	pyoracle.ReadJSON(t, dir, "dicom.json", &m)
	private := []string{m.PatientName, m.PatientID, strings.ReplaceAll(m.PatientName, "^", " "), "Secretname", "31415926"}
	// The DICOM library logs parse trouble through the standard logger: keep that too.
	var logged bytes.Buffer
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)
	check := func(t *testing.T, msg string) {
		for _, p := range private {
			if strings.Contains(msg, p) || strings.Contains(logged.String(), p) {
				t.Errorf("message or log contains patient data %q: %s\nlog: %s", p, msg, logged.String())
			}
		}
	}
	for name, f := range m.Files {
		if !f.Refused {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			_, err := Decode(path)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrUnsupported) || e.Format != DICOM {
				t.Fatalf("error %v, want an ErrUnsupported DICOM *Error", err)
			}
			for _, want := range []string{path, "transfer syntax " + f.TransferSyntax, "JPEG baseline"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
			if _, _, cerr := Check(path); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Check: %v, want %v", cerr, err)
			}
			check(t, err.Error())
		})
	}
	good, err := os.ReadFile(filepath.Join(dir, "jpeg_ybr_full_422.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	native, err := os.ReadFile(filepath.Join(dir, "native_rgb_explicit_le.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(good, []byte(m.PatientName)) {
		t.Fatal("the corpus lost its patient name: the privacy checks below would prove nothing")
	}
	for _, tc := range []struct {
		name string
		data []byte
		kind error
	}{
		{"truncated in the pixel data", native[:len(native)-100], ErrTruncated},
		{"truncated in the header", native[:300], ErrTruncated},
		{"JPEG data damaged", append(append([]byte{}, good[:len(good)-400]...), bytes.Repeat([]byte{0}, 400)...), nil},
		{"photometric PALETTE COLOR", bytes.Replace(native, []byte("RGB "), []byte("HSV "), 1), ErrUnsupported},
		// Rows 16 → 1: the JPEG inside (24x16) no longer matches, and is not decoded.
		{"JPEG larger than Rows and Columns", bytes.Replace(good, []byte{0x28, 0, 0x10, 0, 'U', 'S', 2, 0, 16, 0}, []byte{0x28, 0, 0x10, 0, 'U', 'S', 2, 0, 1, 0}, 1), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBytes(tc.data)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error %v, want %v", err, tc.kind)
			}
			check(t, err.Error())
		})
	}
}
