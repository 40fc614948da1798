package preprocess

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", "none", ""},
		{"none", "none", ""},
		{"crop", "crop", ""},
		{"crop, graham", "crop,graham", ""},
		{"crop,graham,clahe", "crop,graham,clahe", ""},
		{"crop,blur", "", `unknown step "blur"`},
		{"crop,crop", "", `step "crop" twice`},
	} {
		c, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q): err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || c.String() != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, c, err, tc.want)
		}
	}
}
