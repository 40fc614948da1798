package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"resnet", "resnet_small", "resnext", "train", "transform", "version"}
	for _, tc := range []struct{ in, want string }{
		{"resnt", "resnet"}, {"resnet_smal", "resnet_small"}, {"trian", "train"},
		{"verison", "version"}, {"xyzzy", ""}, {"", ""},
	} {
		if got := Closest(tc.in, names); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance = %d, want 3", d)
	}
}
