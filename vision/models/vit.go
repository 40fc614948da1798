package models

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"
)

// Vision Transformer family, mirroring torchvision.models.vision_transformer (class token,
// learned position embedding, pre-norm encoder blocks with nn.MultiheadAttention, exact GELU,
// LayerNorm eps 1e-6; dropout and attention dropout 0 as torchvision's builders). The position
// embedding fixes the input at 224×224: base.ForwardT rejects any other size with an error.
func init() {
	reg := func(name, arch string, patch, layers, heads, hidden, mlp int64, cropPct float64) {
		zoo(name, func(n int) (Model, error) {
			return newViT(name, patch, layers, heads, hidden, mlp, n)
		}, Config{Arch: arch, Classifier: "heads.head", InputSize: 224, CropPct: cropPct, FixedInput: true})
	}
	reg("vision_transformer_small", "vit_b_32", 32, 12, 12, 768, 3072, 224.0/256)
	reg("vision_transformer", "vit_b_16", 16, 12, 12, 768, 3072, 224.0/256)
	reg("vision_transformer_big", "vit_l_16", 16, 24, 16, 1024, 4096, 224.0/242)
}

const vitImageSize = 224

// vitAttention is nn.MultiheadAttention(hidden, heads, batch_first=True) used as self-attention
// with need_weights=False: F.multi_head_attention_forward's packed in-projection, scaled dot
// product attention per head, and the output projection.
type vitAttention struct {
	inW, inB *ts.Tensor
	out      *Linear
	heads    int64
}

func (a *vitAttention) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var bag modBag
	defer bag.free()
	s, err := x.Size()
	if err != nil {
		return nil, err
	}
	n, l, e := s[0], s[1], s[2]
	d := e / a.heads
	qkv, err := bag.track(ts.Linear(x, a.inW, a.inB))
	if err != nil {
		return nil, err
	}
	// [N, L, 3E] -> [3, N, heads, L, head_dim]
	if qkv, err = bag.track(qkv.View([]int64{n, l, 3, a.heads, d}, false)); err != nil {
		return nil, err
	}
	if qkv, err = bag.track(qkv.Permute([]int64{2, 0, 3, 1, 4}, false)); err != nil {
		return nil, err
	}
	var qkvs [3]*ts.Tensor
	for i := range qkvs {
		if qkvs[i], err = bag.track(qkv.Select(0, int64(i), false)); err != nil {
			return nil, err
		}
	}
	y, err := bag.track(sdpaMath(qkvs[0], qkvs[1], qkvs[2]))
	if err != nil {
		return nil, fmt.Errorf("self-attention on input %s: %w", describeShape(s), err)
	}
	// [N, heads, L, head_dim] -> [N, L, E]
	if y, err = bag.track(y.Transpose(1, 2, false)); err != nil {
		return nil, err
	}
	if y, err = bag.track(y.Reshape([]int64{n, l, e}, false)); err != nil {
		return nil, err
	}
	return a.out.ForwardT(y, train)
}

// vitBlock mirrors torchvision's EncoderBlock: x = input + attn(ln_1(input)); x + mlp(ln_2(x)).
type vitBlock struct {
	ln1, ln2 *LayerNorm
	attn     *vitAttention
	mlp      Sequential
}

func (b *vitBlock) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var bag modBag
	defer bag.free()
	y, err := bag.track(b.ln1.ForwardT(x, train))
	if err != nil {
		return nil, err
	}
	if y, err = bag.track(b.attn.ForwardT(y, train)); err != nil {
		return nil, err
	}
	h, err := bag.track(y.Add(x, false))
	if err != nil {
		return nil, err
	}
	if y, err = bag.track(b.ln2.ForwardT(h, train)); err != nil {
		return nil, err
	}
	if y, err = bag.track(b.mlp.ForwardT(y, train)); err != nil {
		return nil, err
	}
	return h.Add(y, false)
}

// vit holds the tensors of VisionTransformer.forward outside the encoder blocks.
type vit struct {
	convProj             *Conv2d
	classToken, posEmbed *ts.Tensor
	blocks               Sequential
	ln                   *LayerNorm
	head                 *Linear
	hidden               int64
}

// ForwardT mirrors VisionTransformer.forward: patchify, prepend the class token, add the
// position embedding, encode, and classify the class token.
func (v *vit) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	var bag modBag
	defer bag.free()
	s, err := x.Size()
	if err != nil {
		return nil, err
	}
	n := s[0]
	y, err := bag.track(v.convProj.ForwardT(x, train))
	if err != nil {
		return nil, err
	}
	if y, err = bag.track(y.Reshape([]int64{n, v.hidden, -1}, false)); err != nil {
		return nil, err
	}
	if y, err = bag.track(y.Permute([]int64{0, 2, 1}, false)); err != nil {
		return nil, err
	}
	cls, err := bag.track(v.classToken.Expand([]int64{n, -1, -1}, false, false))
	if err != nil {
		return nil, err
	}
	if y, err = bag.track(ts.Cat([]*ts.Tensor{cls, y}, 1)); err != nil {
		return nil, err
	}
	tokens := y
	if y, err = bag.track(tokens.Add(v.posEmbed, false)); err != nil {
		return nil, fmt.Errorf("adding the position embedding %s to tokens %s: %w", describeShape(v.posEmbed.MustSize()), describeShape(tokens.MustSize()), err)
	}
	if y, err = bag.track(v.blocks.ForwardT(y, train)); err != nil {
		return nil, err
	}
	if y, err = bag.track(v.ln.ForwardT(y, train)); err != nil {
		return nil, err
	}
	if y, err = bag.track(y.Select(1, 0, false)); err != nil {
		return nil, err
	}
	return v.head.ForwardT(y, train)
}

// newViT mirrors torchvision.models.vision_transformer.VisionTransformer.__init__ (no
// representation layer, no conv stem) with its initialisation.
func newViT(name string, patch, layers, heads, hidden, mlp int64, numClasses int) (Model, error) {
	sd := NewStateDict()
	root := sd.Root()
	seq := (vitImageSize/patch)*(vitImageSize/patch) + 1
	v := &vit{hidden: hidden}
	v.classToken = root.Param("class_token", []int64{1, 1, hidden}, Zeros)
	// trunc_normal_(std=sqrt(1/fan_in)); its ±2 bounds are over 50 standard deviations out.
	v.convProj = modConv(root.Sub("conv_proj"), 3, hidden, patch, ConvOpts{Stride: patch}, Normal(0, math.Sqrt(1/float64(3*patch*patch))), Zeros)
	enc := root.Sub("encoder")
	v.posEmbed = enc.Param("pos_embedding", []int64{1, seq, hidden}, Normal(0, 0.02))
	lp := enc.Sub("layers")
	mlpBias := Normal(0, 1e-6)
	for i := int64(0); i < layers; i++ {
		bp := lp.Subf("encoder_layer_%d", i)
		b := &vitBlock{ln1: NewLayerNorm(bp.Sub("ln_1"), hidden, 1e-6)}
		ap := bp.Sub("self_attention")
		b.attn = &vitAttention{
			inW:   ap.Param("in_proj_weight", []int64{3 * hidden, hidden}, xavierUniform),
			inB:   ap.Param("in_proj_bias", []int64{3 * hidden}, Zeros),
			out:   newLinearInit(ap.Sub("out_proj"), hidden, hidden, true, LinearDefault, Zeros),
			heads: heads,
		}
		b.ln2 = NewLayerNorm(bp.Sub("ln_2"), hidden, 1e-6)
		mp := bp.Sub("mlp")
		b.mlp = Sequential{
			newLinearInit(mp.Sub("0"), hidden, mlp, true, xavierUniform, mlpBias),
			geluLayer,
			newLinearInit(mp.Sub("3"), mlp, hidden, true, xavierUniform, mlpBias),
		}
		v.blocks = append(v.blocks, b)
	}
	v.ln = NewLayerNorm(enc.Sub("ln"), hidden, 1e-6)
	v.head = newLinearInit(root.Sub("heads").Sub("head"), hidden, int64(numClasses), true, Zeros, Zeros)
	return finish(sd, Config{Name: name}, v)
}

// sdpaMath is ATen's _scaled_dot_product_attention_math without mask or dropout (what
// F.scaled_dot_product_attention computes): q and kᵀ each scaled by head_dim^-1/4, softmax over
// the keys, then the weighted sum of v. (gotch cannot pass None for SDPA's optional mask.)
func sdpaMath(q, k, v *ts.Tensor) (*ts.Tensor, error) {
	var bag modBag
	defer bag.free()
	s, err := q.Size()
	if err != nil {
		return nil, err
	}
	sf := ts.FloatScalar(math.Sqrt(1 / math.Sqrt(float64(s[len(s)-1]))))
	qs, err := bag.track(q.MulScalar(sf, false))
	if err != nil {
		return nil, err
	}
	kt, err := bag.track(k.Transpose(-2, -1, false))
	if err != nil {
		return nil, err
	}
	if kt, err = bag.track(kt.MulScalar(sf, false)); err != nil {
		return nil, err
	}
	attn, err := bag.track(qs.Matmul(kt, false))
	if err != nil {
		return nil, err
	}
	if attn, err = bag.track(attn.Softmax(-1, attn.DType(), false)); err != nil {
		return nil, err
	}
	return attn.Matmul(v, false)
}
