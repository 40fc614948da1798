package models

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/ts"

	"github.com/drgrade/drgrade/internal/own"
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
	var s own.Scope
	defer s.Free()
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	n, l, e := size[0], size[1], size[2]
	d := e / a.heads
	qkv, err := s.Track(ts.Linear(x, a.inW, a.inB))
	if err != nil {
		return nil, err
	}
	// [N, L, 3E] -> [3, N, heads, L, head_dim]
	if qkv, err = s.Track(qkv.View([]int64{n, l, 3, a.heads, d}, false)); err != nil {
		return nil, err
	}
	if qkv, err = s.Track(qkv.Permute([]int64{2, 0, 3, 1, 4}, false)); err != nil {
		return nil, err
	}
	var qkvs [3]*ts.Tensor
	for i := range qkvs {
		if qkvs[i], err = s.Track(qkv.Select(0, int64(i), false)); err != nil {
			return nil, err
		}
	}
	y, err := s.Track(sdpaMath(qkvs[0], qkvs[1], qkvs[2]))
	if err != nil {
		return nil, fmt.Errorf("self-attention on input %s: %w", describeShape(size), err)
	}
	// [N, heads, L, head_dim] -> [N, L, E]
	if y, err = s.Track(y.Transpose(1, 2, false)); err != nil {
		return nil, err
	}
	if y, err = s.Track(y.Reshape([]int64{n, l, e}, false)); err != nil {
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
	var s own.Scope
	defer s.Free()
	y, err := s.Track(b.ln1.ForwardT(x, train))
	if err != nil {
		return nil, err
	}
	if y, err = s.Track(b.attn.ForwardT(y, train)); err != nil {
		return nil, err
	}
	h, err := s.Track(y.Add(x, false))
	if err != nil {
		return nil, err
	}
	if y, err = s.Track(b.ln2.ForwardT(h, train)); err != nil {
		return nil, err
	}
	if y, err = s.Track(b.mlp.ForwardT(y, train)); err != nil {
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
// position embedding, encode, and classify the class token. The stages form a Sequential, so
// only the current one is alive while the encoder runs.
func (v *vit) ForwardT(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	return Sequential{LayerFunc(v.embed), v.blocks, v.ln, vitClassToken, v.head}.ForwardT(x, train)
}

// vitClassToken is x[:, 0], the class token of each sample.
var vitClassToken = LayerFunc(func(x *ts.Tensor, _ bool) (*ts.Tensor, error) { return x.Select(1, 0, false) })

// embed is VisionTransformer._process_input followed by the class token and the position
// embedding: the encoder's input, [N, 1+h·w, hidden].
func (v *vit) embed(x *ts.Tensor, train bool) (*ts.Tensor, error) {
	size, err := x.Size()
	if err != nil {
		return nil, err
	}
	n := size[0]
	var s own.Scope // the class token, expanded over the batch
	defer s.Free()
	cls, err := s.Track(v.classToken.Expand([]int64{n, -1, -1}, false, false))
	if err != nil {
		return nil, err
	}
	c := own.NewChain(x)
	defer c.Free()
	if err := c.Next(v.convProj.ForwardT(x, train)); err != nil {
		return nil, err
	}
	if err := c.Next(c.Cur().Reshape([]int64{n, v.hidden, -1}, false)); err != nil {
		return nil, err
	}
	if err := c.Next(c.Cur().Permute([]int64{0, 2, 1}, false)); err != nil {
		return nil, err
	}
	if err := c.Next(ts.Cat([]*ts.Tensor{cls, c.Cur()}, 1)); err != nil {
		return nil, err
	}
	if err := c.Next(c.Cur().Add(v.posEmbed, false)); err != nil {
		return nil, fmt.Errorf("adding the position embedding %s to tokens %s: %w", describeShape(v.posEmbed.MustSize()), describeShape(c.Cur().MustSize()), err)
	}
	return c.Result()
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
	var s own.Scope
	defer s.Free()
	size, err := q.Size()
	if err != nil {
		return nil, err
	}
	sf := ts.FloatScalar(math.Sqrt(1 / math.Sqrt(float64(size[len(size)-1]))))
	qs, err := s.Track(q.MulScalar(sf, false))
	if err != nil {
		return nil, err
	}
	kt, err := s.Track(k.Transpose(-2, -1, false))
	if err != nil {
		return nil, err
	}
	if kt, err = s.Track(kt.MulScalar(sf, false)); err != nil {
		return nil, err
	}
	attn, err := s.Track(qs.Matmul(kt, false))
	if err != nil {
		return nil, err
	}
	if attn, err = s.Track(attn.Softmax(-1, attn.DType(), false)); err != nil {
		return nil, err
	}
	return attn.Matmul(v, false)
}
