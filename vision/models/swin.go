package models

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
	"github.com/drgrade/drgrade/internal/torchext"
)

// Swin Transformer (v1) family, mirroring torchvision.models.swin_transformer.SwinTransformer
// with SwinTransformerBlock, ShiftedWindowAttention and PatchMerging: patch 4, window 7,
// shifted windows masked as torchvision does, relative position bias, LayerNorm eps 1e-5.
// Any input size works (windows and merges pad), as in torchvision.
func init() {
	reg := func(name, arch string, embed int64, depths [4]int, heads [4]int64, sdProb, cropPct float64) {
		zoo(name, func(n int) (Model, error) {
			return newSwin(name, embed, depths, heads, sdProb, n)
		}, Config{Arch: arch, Classifier: "head", CropPct: cropPct})
	}
	reg("swin_transformer_tiny", "swin_t", 96, [4]int{2, 2, 6, 2}, [4]int64{3, 6, 12, 24}, 0.2, 224.0/232)
	reg("swin_transformer_small", "swin_s", 96, [4]int{2, 2, 18, 2}, [4]int64{3, 6, 12, 24}, 0.3, 224.0/246)
	reg("swin_transformer", "swin_b", 128, [4]int{2, 2, 18, 2}, [4]int64{4, 8, 16, 32}, 0.5, 224.0/238)
}

const (
	swinWindow = 7
	swinPatch  = 4
	swinEps    = 1e-5
)

// swinInit is SwinTransformer's initialisation of every Linear weight and of the relative
// position bias table: trunc_normal_(std=0.02), whose ±2 bounds lie 100 standard deviations
// out, so a plain normal draw has its distribution.
var swinInit = Normal(0, 0.02)

// swinAttention mirrors torchvision's ShiftedWindowAttention (v1).
type swinAttention struct {
	table, index *ts.Tensor // relative_position_bias_table [(2w-1)², heads], relative_position_index [w⁴]
	qkv, proj    *Linear
	heads, shift int64
}

func newSwinAttention(p Path, dim, heads, shift int64) *swinAttention {
	a := &swinAttention{heads: heads, shift: shift}
	a.table = p.Param("relative_position_bias_table", []int64{(2*swinWindow - 1) * (2*swinWindow - 1), heads}, swinInit)
	a.index = p.BufferInt64("relative_position_index", []int64{swinWindow * swinWindow * swinWindow * swinWindow})
	if a.index != nil {
		idx, err := TensorFrom(swinRelativePositionIndex(swinWindow), []int64{swinWindow * swinWindow * swinWindow * swinWindow})
		if err == nil {
			err = torchext.CopyInto(a.index, idx)
			idx.MustDrop()
		}
		if err != nil {
			p.fail("relative_position_index", err)
		}
	}
	a.qkv = newLinearInit(p.Sub("qkv"), dim, 3*dim, true, swinInit, Zeros)
	a.proj = newLinearInit(p.Sub("proj"), dim, dim, true, swinInit, Zeros)
	return a
}

// swinRelativePositionIndex is ShiftedWindowAttention.define_relative_position_index for a
// w×w window: for tokens i=(hi, wi), j=(hj, wj), (hi-hj+w-1)*(2w-1) + (wi-wj+w-1).
func swinRelativePositionIndex(w int64) []int64 {
	n := w * w
	out := make([]int64, 0, n*n)
	for i := int64(0); i < n; i++ {
		for j := int64(0); j < n; j++ {
			dh := i/w - j/w + w - 1
			dw := i%w - j%w + w - 1
			out = append(out, dh*(2*w-1)+dw)
		}
	}
	return out
}

// pySliceRange resolves Python's slice(start, stop) over n elements (negative values count
// from the end, noStop means None), as torchvision's mask construction relies on.
func pySliceRange(start, stop int64, noStop bool, n int64) (int64, int64) {
	norm := func(v int64) int64 {
		if v < 0 {
			v += n
		}
		return min(max(v, 0), n)
	}
	s, e := norm(start), n
	if !noStop {
		e = norm(stop)
	}
	return s, e
}

// swinShiftMask is shifted_window_attention's attn_mask for a padded pH×pW map: 0 between
// tokens of the same shifted region, -100 otherwise; shape [numWindows, w², w²].
func swinShiftMask(pH, pW, w, sH, sW int64) []float32 {
	label := make([]int64, pH*pW)
	type sl struct {
		a, b int64
		none bool
	}
	hs := []sl{{0, -w, false}, {-w, -sH, false}, {-sH, 0, true}}
	ws := []sl{{0, -w, false}, {-w, -sW, false}, {-sW, 0, true}}
	count := int64(0)
	for _, h := range hs {
		h0, h1 := pySliceRange(h.a, h.b, h.none, pH)
		for _, c := range ws {
			w0, w1 := pySliceRange(c.a, c.b, c.none, pW)
			for y := h0; y < h1; y++ {
				for x := w0; x < w1; x++ {
					label[y*pW+x] = count
				}
			}
			count++
		}
	}
	nH, nW, n := pH/w, pW/w, w*w
	out := make([]float32, 0, nH*nW*n*n)
	win := make([]int64, n)
	for wy := int64(0); wy < nH; wy++ {
		for wx := int64(0); wx < nW; wx++ {
			for i := int64(0); i < n; i++ {
				win[i] = label[(wy*w+i/w)*pW+wx*w+i%w]
			}
			for a := int64(0); a < n; a++ {
				for b := int64(0); b < n; b++ {
					if win[b]-win[a] != 0 {
						out = append(out, -100)
					} else {
						out = append(out, 0)
					}
				}
			}
		}
	}
	return out
}

// ForwardT is torchvision's shifted_window_attention on x [B, H, W, C] (dropouts are 0).
func (a *swinAttention) ForwardT(input *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	size, err := input.Size()
	if err != nil {
		return nil, err
	}
	if len(size) != 4 {
		return nil, fmt.Errorf("window attention expects [B, H, W, C], got %s", describeShape(size))
	}
	B, H, W, C := size[0], size[1], size[2], size[3]
	w := int64(swinWindow)
	padR, padB := (w-W%w)%w, (w-H%w)%w
	x := input
	if padR > 0 || padB > 0 {
		if x, err = s.Track(input.ConstantPadNd([]int64{0, 0, 0, padR, 0, padB}, false)); err != nil {
			return nil, err
		}
	}
	pH, pW := H+padB, W+padR
	sH, sW := a.shift, a.shift
	if w >= pH {
		sH = 0
	}
	if w >= pW {
		sW = 0
	}
	shifted := sH+sW > 0
	if shifted {
		if x, err = s.Track(x.Roll([]int64{-sH, -sW}, []int64{1, 2}, false)); err != nil {
			return nil, err
		}
	}
	nWin, n := (pH/w)*(pW/w), w*w
	if x, err = s.Track(x.Reshape([]int64{B, pH / w, w, pW / w, w, C}, false)); err != nil {
		return nil, err
	}
	if x, err = s.Track(x.Permute([]int64{0, 1, 3, 2, 4, 5}, false)); err != nil {
		return nil, err
	}
	if x, err = s.Track(x.Reshape([]int64{B * nWin, n, C}, false)); err != nil {
		return nil, err
	}
	qkv, err := s.Track(a.qkv.ForwardT(x, train))
	if err != nil {
		return nil, err
	}
	hd := C / a.heads
	if qkv, err = s.Track(qkv.Reshape([]int64{B * nWin, n, 3, a.heads, hd}, false)); err != nil {
		return nil, err
	}
	if qkv, err = s.Track(qkv.Permute([]int64{2, 0, 3, 1, 4}, false)); err != nil {
		return nil, err
	}
	var q, k, v *ts.Tensor
	for i, dst := range []**ts.Tensor{&q, &k, &v} {
		if *dst, err = s.Track(qkv.Select(0, int64(i), false)); err != nil {
			return nil, err
		}
	}
	if q, err = s.Track(q.MulScalar(ts.FloatScalar(math.Pow(float64(hd), -0.5)), false)); err != nil {
		return nil, err
	}
	kt, err := s.Track(k.Transpose(-2, -1, false))
	if err != nil {
		return nil, err
	}
	attn, err := s.Track(q.Matmul(kt, false))
	if err != nil {
		return nil, err
	}
	bias, err := s.Track(a.relativePositionBias(n))
	if err != nil {
		return nil, err
	}
	if attn, err = s.Track(attn.Add(bias, false)); err != nil {
		return nil, err
	}
	if shifted {
		mask, err := s.Track(swinMaskTensor(swinShiftMask(pH, pW, w, sH, sW), []int64{1, nWin, 1, n, n}, x))
		if err != nil {
			return nil, err
		}
		if attn, err = s.Track(attn.Reshape([]int64{B, nWin, a.heads, n, n}, false)); err != nil {
			return nil, err
		}
		if attn, err = s.Track(attn.Add(mask, false)); err != nil {
			return nil, err
		}
		if attn, err = s.Track(attn.Reshape([]int64{-1, a.heads, n, n}, false)); err != nil {
			return nil, err
		}
	}
	if attn, err = s.Track(attn.Softmax(-1, attn.DType(), false)); err != nil {
		return nil, err
	}
	if x, err = s.Track(attn.Matmul(v, false)); err != nil {
		return nil, err
	}
	if x, err = s.Track(x.Transpose(1, 2, false)); err != nil {
		return nil, err
	}
	if x, err = s.Track(x.Reshape([]int64{B * nWin, n, C}, false)); err != nil {
		return nil, err
	}
	if x, err = s.Track(a.proj.ForwardT(x, train)); err != nil {
		return nil, err
	}
	if x, err = s.Track(x.Reshape([]int64{B, pH / w, pW / w, w, w, C}, false)); err != nil {
		return nil, err
	}
	if x, err = s.Track(x.Permute([]int64{0, 1, 3, 2, 4, 5}, false)); err != nil {
		return nil, err
	}
	if x, err = s.Track(x.Reshape([]int64{B, pH, pW, C}, false)); err != nil {
		return nil, err
	}
	if shifted {
		if x, err = s.Track(x.Roll([]int64{sH, sW}, []int64{1, 2}, false)); err != nil {
			return nil, err
		}
	}
	if padR > 0 || padB > 0 {
		if x, err = s.Track(x.Slice(1, []int64{0}, []int64{H}, 1, false)); err != nil {
			return nil, err
		}
		if x, err = s.Track(x.Slice(2, []int64{0}, []int64{W}, 1, false)); err != nil {
			return nil, err
		}
	}
	return x.Contiguous(false)
}

// relativePositionBias is _get_relative_position_bias: table[index] as [1, heads, n, n].
func (a *swinAttention) relativePositionBias(n int64) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	b, err := s.Track(a.table.IndexSelect(0, a.index, false))
	if err != nil {
		return nil, err
	}
	if b, err = s.Track(b.View([]int64{n, n, -1}, false)); err != nil {
		return nil, err
	}
	if b, err = s.Track(b.Permute([]int64{2, 0, 1}, false)); err != nil {
		return nil, err
	}
	if b, err = s.Track(b.Contiguous(false)); err != nil {
		return nil, err
	}
	return b.Unsqueeze(0, false)
}

// swinMaskTensor makes the mask a tensor of like's dtype and device (x.new_zeros in torchvision).
func swinMaskTensor(data []float32, shape []int64, like *ts.Tensor) (*ts.Tensor, error) {
	dev, err := like.Device()
	if err != nil {
		return nil, err
	}
	if like.DType() == gotch.Float && dev == gotch.CPU {
		return TensorFrom(data, shape)
	}
	m, err := TensorFrom(data, shape)
	if err != nil {
		return nil, err
	}
	defer m.MustDrop()
	return m.ToDtypeLayout(like.DType(), dev, false, false, false)
}

// swinBlock mirrors SwinTransformerBlock: x + sd(attn(norm1(x))), then x + sd(mlp(norm2(x))).
type swinBlock struct {
	norm1, norm2 *LayerNorm
	attn         *swinAttention
	mlp          Sequential
	sdProb       float64
}

func (b *swinBlock) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	y, err := s.Track(b.norm1.ForwardT(x, train))
	if err != nil {
		return nil, err
	}
	if y, err = s.Track(b.attn.ForwardT(y, train)); err != nil {
		return nil, err
	}
	h, err := s.Track(residualAdd(y, x, b.sdProb, train))
	if err != nil {
		return nil, err
	}
	if y, err = s.Track(b.norm2.ForwardT(h, train)); err != nil {
		return nil, err
	}
	if y, err = s.Track(b.mlp.ForwardT(y, train)); err != nil {
		return nil, err
	}
	return residualAdd(y, h, b.sdProb, train)
}

// swinMerge mirrors PatchMerging: pad H and W to even, gather the four 2×2 neighbours
// (x0, x1, x2, x3 order), LayerNorm over 4C, then a bias-free 4C → 2C reduction.
type swinMerge struct {
	reduction *Linear
	norm      *LayerNorm
}

func (m *swinMerge) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var s own.Scope
	defer s.Free()
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	H, W := size[len(size)-3], size[len(size)-2]
	if H%2 != 0 || W%2 != 0 {
		if x, err = s.Track(x.ConstantPadNd([]int64{0, 0, 0, W % 2, 0, H % 2}, false)); err != nil {
			return nil, err
		}
		H, W = H+H%2, W+W%2
	}
	var parts []*ts.Tensor
	for _, o := range [][2]int64{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
		r, err := s.Track(x.Slice(-3, []int64{o[0]}, []int64{H}, 2, false))
		if err != nil {
			return nil, err
		}
		if r, err = s.Track(r.Slice(-2, []int64{o[1]}, []int64{W}, 2, false)); err != nil {
			return nil, err
		}
		parts = append(parts, r)
	}
	y, err := s.Track(ts.Cat(parts, -1))
	if err != nil {
		return nil, err
	}
	if y, err = s.Track(m.norm.ForwardT(y, train)); err != nil {
		return nil, err
	}
	return m.reduction.ForwardT(y, train)
}

// newSwin mirrors torchvision.models.swin_transformer.SwinTransformer.__init__ (v1 block,
// PatchMerging) and its initialisation.
func newSwin(name string, embed int64, depths [4]int, heads [4]int64, sdProb float64, numClasses int) (Model, error) {
	sd := NewStateDict()
	root := sd.Root()
	feat := root.Sub("features")
	stem := feat.Sub("0")
	body := Sequential{
		// The patch embedding keeps nn.Conv2d's default initialisation.
		NewConv2d(stem.Sub("0"), 3, embed, swinPatch, ConvOpts{Stride: swinPatch}, nil),
		permuteLayer(0, 2, 3, 1),
		NewLayerNorm(stem.Sub("2"), embed, swinEps),
	}
	total := 0
	for _, d := range depths {
		total += d
	}
	blockID, idx := 0, 1
	for si := range depths {
		dim := embed << si
		sp := feat.Subf("%d", idx)
		var stage Sequential
		for li := 0; li < depths[si]; li++ {
			bp := sp.Subf("%d", li)
			shift := int64(0)
			if li%2 == 1 {
				shift = swinWindow / 2
			}
			b := &swinBlock{sdProb: sdProb * float64(blockID) / float64(total-1)}
			b.norm1 = NewLayerNorm(bp.Sub("norm1"), dim, swinEps)
			b.attn = newSwinAttention(bp.Sub("attn"), dim, heads[si], shift)
			b.norm2 = NewLayerNorm(bp.Sub("norm2"), dim, swinEps)
			mp := bp.Sub("mlp")
			b.mlp = Sequential{
				newLinearInit(mp.Sub("0"), dim, 4*dim, true, swinInit, Zeros),
				geluLayer,
				newLinearInit(mp.Sub("3"), 4*dim, dim, true, swinInit, Zeros),
			}
			stage = append(stage, b)
			blockID++
		}
		body = append(body, stage)
		idx++
		if si < len(depths)-1 {
			mp := feat.Subf("%d", idx)
			body = append(body, &swinMerge{
				reduction: newLinearInit(mp.Sub("reduction"), 4*dim, 2*dim, false, swinInit, nil),
				norm:      NewLayerNorm(mp.Sub("norm"), 4*dim, swinEps),
			})
			idx++
		}
	}
	last := embed << (len(depths) - 1)
	body = append(body,
		NewLayerNorm(root.Sub("norm"), last, swinEps),
		permuteLayer(0, 3, 1, 2),
		AdaptiveAvgPool2d(1, 1),
		Flatten,
		newLinearInit(root.Sub("head"), last, int64(numClasses), true, swinInit, Zeros))
	return finish(sd, Config{Name: name}, body)
}
