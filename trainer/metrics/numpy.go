package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// This file holds NumPy's arithmetic where the order of operations decides the last bits, so
// the screening and calibration numbers come out as sklearn's and NumPy's do, to the bit:
// np.sum's pairwise summation, np.percentile's linear interpolation and np.linspace.

// npBlock is NumPy's reduction buffer (NPY_BUFSIZE, 8192 elements): np.sum of a longer array
// adds the pairwise sums of consecutive 8192-element chunks left to right.
const npBlock = 8192

// npSum is np.sum (np.add.reduce) of a contiguous float64 array, bit for bit: the pairwise
// summation of numpy/core/src/umath/loops_utils.h (8 accumulators up to 128 elements, halves
// on multiples of 8 above), chunk by chunk of npBlock elements.
func npSum(a []float64) float64 {
	s := 0.0
	for i := 0; i < len(a); i += npBlock {
		s += pairwiseSum(a[i:min(i+npBlock, len(a))])
	}
	return s
}

func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		res := 0.0
		for _, v := range a {
			res += v
		}
		return res
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += a[i+j]
			}
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
}

// npMean is np.mean of a float64 array: np.sum / n.
func npMean(a []float64) float64 { return npSum(a) / float64(len(a)) }

// npVar is np.var(a, ddof=ddof): the mean is np.mean, the squared deviations summed by np.sum.
// NaN when len(a) <= ddof (NumPy warns and returns nan).
func npVar(a []float64, ddof int) float64 {
	if len(a)-ddof <= 0 {
		return math.NaN()
	}
	m := npMean(a)
	sq := make([]float64, len(a))
	for i, v := range a {
		d := v - m
		sq[i] = d * d
	}
	return npSum(sq) / float64(len(a)-ddof)
}

// Percentile is np.percentile(values, p) with NumPy's default method, "linear" (Hyndman and
// Fan's 7th): the virtual index (n-1)·p/100 between the two nearest order statistics,
// interpolated as NumPy's _lerp does (from the upper neighbour when the weight is >= 0.5).
// values is not modified; NaN for an empty slice or a NaN among the values.
func Percentile(values []float64, p float64) float64 {
	n := len(values)
	if n == 0 {
		return math.NaN()
	}
	v := append([]float64(nil), values...)
	for _, x := range v {
		if math.IsNaN(x) {
			return math.NaN()
		}
	}
	sort.Float64s(v)
	q := p / 100
	vi := float64(n-1) * q
	switch {
	case vi >= float64(n-1):
		return v[n-1]
	case vi < 0:
		return v[0]
	}
	prev := math.Floor(vi)
	lo := int(prev)
	a, b := v[lo], v[lo+1]
	g := vi - prev
	d := b - a
	if g >= 0.5 {
		return b - d*(1-g)
	}
	return a + d*g
}

// npLinspace is np.linspace(start, stop, num): start + i·step with step = (stop-start)/(num-1),
// the last value exactly stop.
func npLinspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	if num == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(num-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[num-1] = stop
	return out
}

// marshalNullable encodes the struct v (not a pointer) as encoding/json would, field by field
// in declaration order with the same tags, except that non-finite float64s (alone or in
// []float64) are written as null: encoding/json refuses NaN, and an undefined AUC, PPV or
// bin accuracy is NaN here. Types embedding this call it from their MarshalJSON.
func marshalNullable(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := rv.Field(i)
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			continue
		}
		var enc []byte
		switch {
		case fv.Kind() == reflect.Float64:
			enc = nullableNumber(fv.Float())
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Float64 && !fv.IsNil():
			parts := make([]string, fv.Len())
			for j := range parts {
				parts[j] = string(nullableNumber(fv.Index(j).Float()))
			}
			enc = []byte("[" + strings.Join(parts, ",") + "]")
		default:
			var err error
			if enc, err = json.Marshal(fv.Interface()); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(name)
		b.Write(key)
		b.WriteByte(':')
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func nullableNumber(x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null")
	}
	b, _ := json.Marshal(x)
	return b
}
