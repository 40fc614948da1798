package pth

import "testing"

func TestOpName(t *testing.T) {
	for op, want := range map[byte]string{
		opBinint1: "BININT1 ('K')",
		opProto:   "PROTO (0x80)",
		opMark:    "MARK ('(')",
		0xff:      "0xff",
	} {
		if got := opName(op); got != want {
			t.Errorf("opName(0x%02x) = %q, want %q", op, got, want)
		}
	}
	// 68 opcodes in Python 3.8+ (pickletools.opcodes).
	n := 0
	for _, name := range opNames {
		if name != "" {
			n++
		}
	}
	if n != 68 {
		t.Errorf("opNames has %d opcodes, want 68", n)
	}
}
