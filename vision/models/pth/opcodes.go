package pth

import "fmt"

// Pickle opcodes, named as in CPython's Lib/pickle.py and pickletools (MARK, STOP,
// BININT1, ...). The reader (unpickle.go) and the writer (save.go) both use this table.
const (
	// Protocol 0 and 1.
	opMark           byte = '(' // MARK: push a mark on the metastack
	opStop           byte = '.' // STOP: the pickle ends; pop its object
	opPop            byte = '0' // POP
	opPopMark        byte = '1' // POP_MARK
	opDup            byte = '2' // DUP
	opFloat          byte = 'F' // FLOAT (text)
	opInt            byte = 'I' // INT (text)
	opBinint         byte = 'J' // BININT: 4-byte signed
	opBinint1        byte = 'K' // BININT1: 1-byte unsigned
	opLong           byte = 'L' // LONG (text)
	opBinint2        byte = 'M' // BININT2: 2-byte unsigned
	opNone           byte = 'N' // NONE
	opPersid         byte = 'P' // PERSID (text)
	opBinpersid      byte = 'Q' // BINPERSID
	opReduce         byte = 'R' // REDUCE
	opString         byte = 'S' // STRING (quoted text)
	opBinstring      byte = 'T' // BINSTRING: 4-byte length
	opShortBinstring byte = 'U' // SHORT_BINSTRING: 1-byte length
	opUnicode        byte = 'V' // UNICODE (raw-unicode-escaped text)
	opBinunicode     byte = 'X' // BINUNICODE: 4-byte length
	opAppend         byte = 'a' // APPEND
	opBuild          byte = 'b' // BUILD
	opGlobal         byte = 'c' // GLOBAL (module and name lines)
	opDict           byte = 'd' // DICT
	opEmptyDict      byte = '}' // EMPTY_DICT
	opAppends        byte = 'e' // APPENDS
	opGet            byte = 'g' // GET (text)
	opBinget         byte = 'h' // BINGET: 1-byte index
	opInst           byte = 'i' // INST
	opLongBinget     byte = 'j' // LONG_BINGET: 4-byte index
	opList           byte = 'l' // LIST
	opEmptyList      byte = ']' // EMPTY_LIST
	opObj            byte = 'o' // OBJ
	opPut            byte = 'p' // PUT (text)
	opBinput         byte = 'q' // BINPUT: 1-byte index
	opLongBinput     byte = 'r' // LONG_BINPUT: 4-byte index
	opSetitem        byte = 's' // SETITEM
	opTuple          byte = 't' // TUPLE
	opEmptyTuple     byte = ')' // EMPTY_TUPLE
	opSetitems       byte = 'u' // SETITEMS
	opBinfloat       byte = 'G' // BINFLOAT: 8-byte big-endian double

	// Protocol 2.
	opProto    byte = 0x80 // PROTO
	opNewobj   byte = 0x81 // NEWOBJ
	opExt1     byte = 0x82 // EXT1
	opExt2     byte = 0x83 // EXT2
	opExt4     byte = 0x84 // EXT4
	opTuple1   byte = 0x85 // TUPLE1
	opTuple2   byte = 0x86 // TUPLE2
	opTuple3   byte = 0x87 // TUPLE3
	opNewtrue  byte = 0x88 // NEWTRUE
	opNewfalse byte = 0x89 // NEWFALSE
	opLong1    byte = 0x8a // LONG1: 1-byte length
	opLong4    byte = 0x8b // LONG4: 4-byte length

	// Protocol 3.
	opBinbytes      byte = 'B' // BINBYTES: 4-byte length
	opShortBinbytes byte = 'C' // SHORT_BINBYTES: 1-byte length

	// Protocol 4.
	opShortBinunicode byte = 0x8c // SHORT_BINUNICODE: 1-byte length
	opBinunicode8     byte = 0x8d // BINUNICODE8: 8-byte length
	opBinbytes8       byte = 0x8e // BINBYTES8: 8-byte length
	opEmptySet        byte = 0x8f // EMPTY_SET
	opAdditems        byte = 0x90 // ADDITEMS
	opFrozenset       byte = 0x91 // FROZENSET
	opNewobjEx        byte = 0x92 // NEWOBJ_EX
	opStackGlobal     byte = 0x93 // STACK_GLOBAL
	opMemoize         byte = 0x94 // MEMOIZE
	opFrame           byte = 0x95 // FRAME: 8-byte length (a read-ahead hint)

	// Protocol 5.
	opBytearray8     byte = 0x96 // BYTEARRAY8: 8-byte length
	opNextBuffer     byte = 0x97 // NEXT_BUFFER
	opReadonlyBuffer byte = 0x98 // READONLY_BUFFER
)

// opNames maps each opcode to its pickletools name, for error messages.
var opNames = [256]string{
	opMark: "MARK", opStop: "STOP", opPop: "POP", opPopMark: "POP_MARK", opDup: "DUP",
	opFloat: "FLOAT", opInt: "INT", opBinint: "BININT", opBinint1: "BININT1", opLong: "LONG",
	opBinint2: "BININT2", opNone: "NONE", opPersid: "PERSID", opBinpersid: "BINPERSID",
	opReduce: "REDUCE", opString: "STRING", opBinstring: "BINSTRING",
	opShortBinstring: "SHORT_BINSTRING", opUnicode: "UNICODE", opBinunicode: "BINUNICODE",
	opAppend: "APPEND", opBuild: "BUILD", opGlobal: "GLOBAL", opDict: "DICT",
	opEmptyDict: "EMPTY_DICT", opAppends: "APPENDS", opGet: "GET", opBinget: "BINGET",
	opInst: "INST", opLongBinget: "LONG_BINGET", opList: "LIST", opEmptyList: "EMPTY_LIST",
	opObj: "OBJ", opPut: "PUT", opBinput: "BINPUT", opLongBinput: "LONG_BINPUT",
	opSetitem: "SETITEM", opTuple: "TUPLE", opEmptyTuple: "EMPTY_TUPLE",
	opSetitems: "SETITEMS", opBinfloat: "BINFLOAT",

	opProto: "PROTO", opNewobj: "NEWOBJ", opExt1: "EXT1", opExt2: "EXT2", opExt4: "EXT4",
	opTuple1: "TUPLE1", opTuple2: "TUPLE2", opTuple3: "TUPLE3", opNewtrue: "NEWTRUE",
	opNewfalse: "NEWFALSE", opLong1: "LONG1", opLong4: "LONG4",

	opBinbytes: "BINBYTES", opShortBinbytes: "SHORT_BINBYTES",

	opShortBinunicode: "SHORT_BINUNICODE", opBinunicode8: "BINUNICODE8",
	opBinbytes8: "BINBYTES8", opEmptySet: "EMPTY_SET", opAdditems: "ADDITEMS",
	opFrozenset: "FROZENSET", opNewobjEx: "NEWOBJ_EX", opStackGlobal: "STACK_GLOBAL",
	opMemoize: "MEMOIZE", opFrame: "FRAME",

	opBytearray8: "BYTEARRAY8", opNextBuffer: "NEXT_BUFFER", opReadonlyBuffer: "READONLY_BUFFER",
}

// opName names an opcode for an error message: "BININT1 ('K')", "PROTO (0x80)", or
// "0xff" for a byte that is no opcode.
func opName(op byte) string {
	name := opNames[op]
	switch {
	case name == "":
		return fmt.Sprintf("0x%02x", op)
	case op >= 0x20 && op < 0x7f:
		return fmt.Sprintf("%s (%q)", name, op)
	}
	return fmt.Sprintf("%s (0x%02x)", name, op)
}
