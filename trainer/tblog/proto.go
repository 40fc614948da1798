package tblog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"unicode/utf8"
)

// Field numbers of tensorboard.Event, tensorboard.Summary, Summary.Value and SourceMetadata.
const (
	eventWallTime       = 1  // double
	eventStep           = 2  // int64
	eventFileVersion    = 3  // string
	eventSummary        = 5  // Summary
	eventSourceMetadata = 10 // SourceMetadata
	summaryValue        = 1  // repeated Summary.Value
	valueTag            = 1  // string
	valueSimpleValue    = 2  // float
	sourceWriter        = 1  // string
)

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireStartGr = 3
	wireEndGr   = 4
	wireFixed32 = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MaskedCRC32C mirrors TensorFlow's crc32c::Mask (tensorboard's masked_crc32c): the CRC32C
// rotated right by 15 bits plus 0xa282ead8, so CRCs of data containing CRCs stay well mixed.
func MaskedCRC32C(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// frameRecord appends one TFRecord (length, masked CRC of length, data, masked CRC of data).
func frameRecord(dst, data []byte) []byte {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(data)))
	dst = append(dst, hdr[:]...)
	dst = binary.LittleEndian.AppendUint32(dst, MaskedCRC32C(hdr[:]))
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, MaskedCRC32C(data))
}

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendEventHeader encodes wall_time and step, omitted when zero as proto3 does.
func appendEventHeader(b []byte, wallTime float64, step int64) []byte {
	if math.Float64bits(wallTime) != 0 {
		b = appendTag(b, eventWallTime, wireFixed64)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(wallTime))
	}
	if step != 0 {
		b = appendTag(b, eventStep, wireVarint)
		b = binary.AppendUvarint(b, uint64(step)) // int64: two's complement, 10 bytes if < 0
	}
	return b
}

// encodeFileVersionEvent encodes Event{wall_time, file_version, source_metadata{writer}}
// (source_metadata omitted when writer is empty).
func encodeFileVersionEvent(wallTime float64, version, writer string) []byte {
	b := appendEventHeader(nil, wallTime, 0)
	b = appendBytesField(b, eventFileVersion, []byte(version))
	if writer != "" {
		b = appendBytesField(b, eventSourceMetadata, appendBytesField(nil, sourceWriter, []byte(writer)))
	}
	return b
}

// encodeScalarEvent encodes Event{wall_time, step, summary{value [{tag, simple_value}]}}, the
// message torch.utils.tensorboard's add_scalar writes (simple_value is a float32).
func encodeScalarEvent(wallTime float64, step int64, tag string, value float32) []byte {
	v := appendBytesField(nil, valueTag, []byte(tag))
	v = appendTag(v, valueSimpleValue, wireFixed32)
	v = binary.LittleEndian.AppendUint32(v, math.Float32bits(value))
	s := appendBytesField(nil, summaryValue, v)
	b := appendEventHeader(nil, wallTime, step)
	return appendBytesField(b, eventSummary, s)
}

// toFloat32 narrows a float64 to the float32 a protobuf float field stores, spelled out so the
// result does not depend on the platform (Go leaves out-of-range conversions to it): round to
// nearest even, overflow to ±Inf, and a NaN keeps its sign and top payload bits, made quiet,
// as IEEE hardware and Python's protobuf do.
func toFloat32(x float64) float32 {
	const overflow = math.MaxFloat32 + 1<<103 // MaxFloat32 + half an ulp: ties round to Inf
	switch {
	case math.IsNaN(x):
		b := math.Float64bits(x)
		return math.Float32frombits(uint32(b>>32)&0x80000000 | 0x7fc00000 | uint32(b>>29)&0x003fffff)
	case x >= overflow:
		return float32(math.Inf(1))
	case x <= -overflow:
		return float32(math.Inf(-1))
	}
	return float32(x)
}

// field is one decoded protobuf field.
type field struct {
	num  int
	wire int
	u    uint64 // varint, fixed64, fixed32
	b    []byte // length-delimited
}

var errTruncated = errors.New("truncated protobuf")

// nextField decodes one field from b, returning it and the rest. Groups are rejected (no
// message of event.proto uses them).
func nextField(b []byte) (field, []byte, error) {
	key, n := binary.Uvarint(b)
	if n <= 0 {
		return field{}, nil, errTruncated
	}
	b = b[n:]
	f := field{num: int(key >> 3), wire: int(key & 7)}
	if key>>3 == 0 || key>>3 > 1<<29-1 {
		return field{}, nil, fmt.Errorf("invalid protobuf field number %d", key>>3)
	}
	switch f.wire {
	case wireVarint:
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return field{}, nil, errTruncated
		}
		f.u, b = v, b[n:]
	case wireFixed64:
		if len(b) < 8 {
			return field{}, nil, errTruncated
		}
		f.u, b = binary.LittleEndian.Uint64(b), b[8:]
	case wireFixed32:
		if len(b) < 4 {
			return field{}, nil, errTruncated
		}
		f.u, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
	case wireBytes:
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return field{}, nil, errTruncated
		}
		f.b, b = b[n:n+int(l)], b[n+int(l):]
	default:
		return field{}, nil, fmt.Errorf("unsupported protobuf wire type %d (field %d)", f.wire, f.num)
	}
	return f, b, nil
}

func protoString(f field, what string) (string, error) {
	if !utf8.Valid(f.b) {
		return "", fmt.Errorf("%s is not valid UTF-8", what)
	}
	return string(f.b), nil
}

// decodeEvent parses a serialised tensorboard.Event. Unknown fields, and known fields with an
// unexpected wire type, are skipped as protobuf parsers do; a repeated singular field keeps
// its last value and a repeated summary is merged (its values appended).
func decodeEvent(b []byte) (Event, error) {
	var e Event
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return Event{}, err
		}
		b = rest
		switch {
		case f.num == eventWallTime && f.wire == wireFixed64:
			e.WallTime = math.Float64frombits(f.u)
		case f.num == eventStep && f.wire == wireVarint:
			e.Step = int64(f.u)
		case f.num == eventFileVersion && f.wire == wireBytes:
			fv, err := protoString(f, "file_version")
			if err != nil {
				return Event{}, err
			}
			e.clearWhat()
			e.FileVersion, e.HasFileVersion = fv, true
		case f.num == eventSummary && f.wire == wireBytes:
			vs, err := decodeSummary(f.b)
			if err != nil {
				return Event{}, err
			}
			if !e.HasSummary {
				e.clearWhat()
			}
			e.Values = append(e.Values, vs...)
			e.HasSummary = true
		case f.num >= 4 && f.num <= 9 && f.wire == wireBytes:
			e.clearWhat() // another member of Event's `what` oneof (graph_def, log_message, ...)
		}
	}
	return e, nil
}

func decodeSummary(b []byte) ([]Value, error) {
	var vs []Value
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if f.num == summaryValue && f.wire == wireBytes {
			v, err := decodeValue(f.b)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
	}
	return vs, nil
}

func decodeValue(b []byte) (Value, error) {
	var v Value
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return Value{}, err
		}
		b = rest
		switch {
		case f.num == valueTag && f.wire == wireBytes:
			if v.Tag, err = protoString(f, "tag"); err != nil {
				return Value{}, err
			}
		case f.num == valueSimpleValue && f.wire == wireFixed32:
			v.SimpleValue = math.Float32frombits(uint32(f.u))
			v.HasSimpleValue = true
		case (f.num >= 3 && f.num <= 6 || f.num == 8) && f.wire == wireBytes:
			// another member of Value's `value` oneof (image, histo, audio, tensor) replaces it
			v.SimpleValue, v.HasSimpleValue = 0, false
		}
	}
	return v, nil
}
