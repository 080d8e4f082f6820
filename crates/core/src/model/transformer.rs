//! nanoGPT's `GPT` (Karpathy's `model.py`): learned positions, `n_layer` pre-LayerNorm blocks
//! `x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))` of causal multi-head self-attention and a GELU
//! MLP, then `ln_f`. The token embedding `wte` and the tied output layer (`lm_head` = `wte`, no
//! bias) belong to `PoemModel`, as every cell's do. Uses `readback`.
//!
//! Built from burn's `LayerNorm` (eps 1e-5), `Linear`, `Dropout` and its fused `attention` op
//! (causal, softmax(QKᵀ/√d_head)V). On the CPU, GELU and the attention of a whole sequence run as
//! `kernels::transformer`'s fused loops (burn's element-wise ops there use one core). The
//! attention is written out in tensor ops only where burn's op cannot go: with attention
//! dropout while training, and to read the weights for the page (`attention_maps`); a test
//! checks one against the other.
//!
//! Parameters travel as the trainer's flat list of matrices in `param_shapes` order (nanoGPT's
//! state-dict names); rank-1 ones (biases, LayerNorm) are stored `[1, d]` and reshaped here.

use burn::module::{Module, Param, ParamId};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::module::{attention, embedding};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Int, Tensor};
use rand::Rng;
use rand_distr::StandardNormal;

use super::{ModelShape, Probes, State};
use crate::kernels::transformer as kernels;
use crate::readback::{ReadError, read_values};

/// Everything a Transformer has read: the tokens `[B, t]` (at most the block) and each block's
/// keys and values for them `[B, t, E]` (the KV cache, heads side by side), so the next token
/// attends without reading the past again.
#[derive(Debug, Clone)]
pub struct Context {
    pub tokens: Tensor<2, Int>,
    pub kv: Vec<(Tensor<3>, Tensor<3>)>,
}

#[derive(Module, Debug)]
pub struct Transformer {
    /// `[block_size, E]`
    pub wpe: Param<Tensor<2>>,
    pub h: Vec<Block>,
    pub ln_f: LayerNorm,
    /// On `wte + wpe` (nanoGPT's `transformer.drop`).
    pub drop: Dropout,
}

#[derive(Module, Debug)]
pub struct Block {
    pub ln_1: LayerNorm,
    pub attn: CausalSelfAttention,
    pub ln_2: LayerNorm,
    pub mlp: Mlp,
}

#[derive(Module, Debug)]
pub struct CausalSelfAttention {
    /// `[E, 3E]`: q, k and v side by side
    pub c_attn: Linear,
    /// `[E, E]`
    pub c_proj: Linear,
    pub attn_dropout: Dropout,
    pub resid_dropout: Dropout,
    #[module(skip)]
    pub n_head: usize,
}

#[derive(Module, Debug)]
pub struct Mlp {
    /// `[E, 4E]`
    pub c_fc: Linear,
    /// `[4E, E]`
    pub c_proj: Linear,
    pub dropout: Dropout,
}

/// Names (nanoGPT's state dict) and shapes, in the order the trainer keeps them: `wte` first
/// (the tied output layer), then `wpe`, each block, `ln_f`. Linear weights are `[in, out]`.
pub(super) fn param_shapes(vocab: usize, s: &ModelShape) -> Vec<(String, [usize; 2])> {
    let e = s.embedding;
    let mut out = vec![("transformer.wte.weight".to_string(), [vocab, e]), ("transformer.wpe.weight".to_string(), [s.block_size, e])];
    let mut add = |name: String, d_in: usize, d_out: usize, layer_norm: bool| {
        out.push((format!("{name}.weight"), if layer_norm { [1, d_out] } else { [d_in, d_out] }));
        if s.bias {
            out.push((format!("{name}.bias"), [1, d_out]));
        }
    };
    for i in 0..s.layers {
        let h = format!("transformer.h.{i}");
        add(format!("{h}.ln_1"), e, e, true);
        add(format!("{h}.attn.c_attn"), e, 3 * e, false);
        add(format!("{h}.attn.c_proj"), e, e, false);
        add(format!("{h}.ln_2"), e, e, true);
        add(format!("{h}.mlp.c_fc"), e, 4 * e, false);
        add(format!("{h}.mlp.c_proj"), 4 * e, e, false);
    }
    add("transformer.ln_f".into(), e, e, true);
    out
}

/// nanoGPT's `_init_weights`: N(0, 0.02) for Linear and Embedding weights, N(0, 0.02/√(2·n_layer))
/// for the projections into the residual stream (`c_proj`), zero biases, LayerNorm weight 1.
pub(super) fn init_values(name: &str, len: usize, layers: usize, rng: &mut impl Rng) -> Vec<f32> {
    let normal = |std: f32, rng: &mut dyn rand::RngCore| (0..len).map(|_| std * rng.sample::<f32, _>(StandardNormal)).collect();
    if name.ends_with(".bias") {
        vec![0.0; len]
    } else if name.contains(".ln_") {
        vec![1.0; len]
    } else if name.ends_with("c_proj.weight") {
        normal(0.02 / (2.0 * layers as f32).sqrt(), rng)
    } else {
        normal(0.02, rng)
    }
}

/// Builds the modules from the flat list (after `wte`), in `param_shapes` order.
pub(super) fn from_params(s: &ModelShape, params: &mut impl Iterator<Item = Tensor<2>>) -> Transformer {
    let mut next = || params.next().expect("param_shapes counts them");
    let param = |t| Param::initialized(ParamId::new(), t);
    // Reshapes of the tracked leaves: the trainer reads gradients from its leaves, not these.
    let vector = |next: &mut dyn FnMut() -> Tensor<2>| {
        let t = next();
        let d = t.dims()[1];
        Param::initialized(ParamId::new(), t.reshape([d]))
    };
    let linear = |next: &mut dyn FnMut() -> Tensor<2>| Linear { weight: param(next()), bias: s.bias.then(|| vector(next)) };
    let layer_norm = |next: &mut dyn FnMut() -> Tensor<2>| {
        let t = next();
        let device = t.device();
        let d = t.dims()[1];
        // burn's LayerNorm keeps eps private: the config makes one (its parameters are lazy,
        // so nothing is allocated) and ours replace them.
        let mut ln = LayerNormConfig::new(d).with_epsilon(1e-5).with_bias(s.bias).init(&device);
        ln.gamma = Param::initialized(ParamId::new(), t.reshape([d]));
        ln.beta = s.bias.then(|| {
            let b = next();
            Param::initialized(ParamId::new(), b.reshape([d]))
        });
        ln
    };
    let dropout = || DropoutConfig::new(s.dropout).init();
    let wpe = param(next());
    let h = (0..s.layers)
        .map(|_| {
            let ln_1 = layer_norm(&mut next);
            let attn = CausalSelfAttention {
                c_attn: linear(&mut next),
                c_proj: linear(&mut next),
                attn_dropout: dropout(),
                resid_dropout: dropout(),
                n_head: s.heads,
            };
            let ln_2 = layer_norm(&mut next);
            let mlp = Mlp { c_fc: linear(&mut next), c_proj: linear(&mut next), dropout: dropout() };
            Block { ln_1, attn, ln_2, mlp }
        })
        .collect();
    Transformer { wpe, h, ln_f: layer_norm(&mut next), drop: dropout() }
}

impl Transformer {
    /// The parameters after `wte`, in `param_shapes` order (rank-1 ones as `[1, d]`).
    pub fn params(&self) -> Vec<Tensor<2>> {
        let row = |p: &Param<Tensor<1>>| p.val().unsqueeze::<2>();
        let layer_norm = |ln: &LayerNorm| [Some(row(&ln.gamma)), ln.beta.as_ref().map(row)];
        let linear = |l: &Linear| [Some(l.weight.val()), l.bias.as_ref().map(row)];
        let mut out = vec![self.wpe.val()];
        for b in &self.h {
            let parts = [layer_norm(&b.ln_1), linear(&b.attn.c_attn), linear(&b.attn.c_proj), layer_norm(&b.ln_2), linear(&b.mlp.c_fc), linear(&b.mlp.c_proj)];
            out.extend(parts.into_iter().flatten().flatten());
        }
        out.extend(layer_norm(&self.ln_f).into_iter().flatten());
        out
    }

    pub fn block_size(&self) -> usize {
        self.wpe.dims()[0]
    }

    /// Everything before the output layer.
    ///
    /// - `wte`: `[V, E]`, `tokens`: `[B, T]`; `past`: what was read before (`None`: nothing)
    /// - `probes.hidden` (T of `[B, E]`) is added to the first block's input: its gradient is
    ///   ∂L/∂x_t there, which reaches every later position through attention (at the last
    ///   block's output it would reach only its own position's loss)
    /// - returns `ln_f`'s output `[B*T', E]` for the last T' = min(T, block) tokens, and the state:
    ///   each block's output at the last position `[L, B, E]` and the context read
    ///
    /// Past the block size nanoGPT crops the context to its last `block_size` tokens and reads
    /// them afresh (positions start again at 0); so does this.
    pub fn hidden_states(&self, wte: Tensor<2>, tokens: Tensor<2, Int>, past: Option<Context>, probes: &mut Probes) -> (Tensor<2>, State) {
        let [batch, t_new] = tokens.dims();
        let block = self.block_size();
        let read = past.as_ref().map_or(0, |c| c.tokens.dims()[1]);
        let (tokens, past) = match past {
            Some(c) if read + t_new <= block => (tokens, Some(c)),
            Some(c) => (Tensor::cat(vec![c.tokens, tokens], 1), None),
            None => (tokens, None),
        };
        let t_all = tokens.dims()[1];
        let tokens = if t_all > block { tokens.narrow(1, t_all - block, block) } else { tokens };
        let (t_len, start) = (tokens.dims()[1], past.as_ref().map_or(0, |c| c.tokens.dims()[1]));
        let e = self.wpe.dims()[1];

        let pos = self.wpe.val().narrow(0, start, t_len).unsqueeze::<3>(); // [1, T, E]
        let mut x = self.drop.forward(embedding(wte, tokens.clone()) + pos); // [B, T, E]
        if let Some(p) = probes.hidden.as_ref().filter(|p| p.len() == t_len) {
            x = x + Tensor::stack::<3>(p.clone(), 1);
        }
        let (mut kv, mut lasts) = (Vec::with_capacity(self.h.len()), Vec::with_capacity(self.h.len()));
        for (l, block) in self.h.iter().enumerate() {
            let (y, cache) = block.forward(x, past.as_ref().map(|c| c.kv[l].clone()), None);
            x = y;
            kv.push(cache);
            lasts.push(x.clone().narrow(1, t_len - 1, 1).reshape([batch, e]));
        }
        let hidden = self.ln_f.forward(x); // [B, T, E]
        let kept = t_new.min(t_len);
        let hidden = hidden.narrow(1, t_len - kept, kept).reshape([batch * kept, e]);
        let tokens = match past {
            Some(c) => Tensor::cat(vec![c.tokens, tokens], 1),
            None => tokens,
        };
        (hidden, State { h: Tensor::stack(lasts, 0), c: None, context: Some(Context { tokens, kv }) })
    }

    /// Each block's attention weights for `tokens` `[1, T]` (T ≤ block): `[L, H, T, T]`, row i
    /// the weights position i gave positions 0..=i.
    pub fn attention_weights(&self, wte: Tensor<2>, tokens: Tensor<2, Int>) -> Tensor<4> {
        let t_len = tokens.dims()[1];
        let pos = self.wpe.val().narrow(0, 0, t_len).unsqueeze::<3>();
        let mut x = embedding(wte, tokens) + pos;
        let mut maps = Vec::with_capacity(self.h.len());
        for block in &self.h {
            let mut weights = None;
            x = block.forward(x, None, Some(&mut weights)).0;
            maps.push(weights.expect("asked for"));
        }
        Tensor::cat(maps, 0)
    }
}

impl Block {
    fn forward(&self, x: Tensor<3>, past: Option<(Tensor<3>, Tensor<3>)>, weights: Option<&mut Option<Tensor<4>>>) -> (Tensor<3>, (Tensor<3>, Tensor<3>)) {
        let (a, kv) = self.attn.forward(self.ln_1.forward(x.clone()), past, weights);
        let x = x + a;
        let m = self.mlp.forward(self.ln_2.forward(x.clone()));
        (x + m, kv)
    }
}

impl Mlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        // GELU with erf, as PyTorch's `nn.GELU()` (one fused pass each way on the CPU).
        self.dropout.forward(self.c_proj.forward(kernels::gelu(self.c_fc.forward(x))))
    }
}

impl CausalSelfAttention {
    /// - `x`: `[B, T, E]`; `past`: keys and values `[B, t, E]` of the positions before
    /// - returns `[B, T, E]` and the keys and values of all `t + T` positions (heads side by
    ///   side, as `c_attn` makes them); with `weights`, also the attention weights
    ///   `[B, H, T, t + T]`
    fn forward(&self, x: Tensor<3>, past: Option<(Tensor<3>, Tensor<3>)>, weights: Option<&mut Option<Tensor<4>>>) -> (Tensor<3>, (Tensor<3>, Tensor<3>)) {
        let [b, t, e] = x.dims();
        let (h, d) = (self.n_head, e / self.n_head);
        let qkv = self.c_attn.forward(x); // [B, T, 3E]
        let part = |i: usize| qkv.clone().narrow(2, i * e, e); // [B, T, E]
        let (mut k, mut v) = (part(1), part(2));
        let dropping = self.attn_dropout.prob > 0.0 && qkv.device().is_autodiff();
        if past.is_none() && !dropping && weights.is_none() {
            // The whole sequence at once (training, evaluation): one fused operation on the CPU.
            let y = kernels::causal_attention(qkv.clone(), h); // [B, T, E]
            return (self.resid_dropout.forward(self.c_proj.forward(y)), (k, v));
        }
        if let Some((pk, pv)) = past {
            (k, v) = (Tensor::cat(vec![pk, k], 1), Tensor::cat(vec![pv, v], 1));
        }
        let heads = |x: Tensor<3>| {
            let n = x.dims()[1];
            x.reshape([b, n, h, d]).swap_dims(1, 2) // [B, H, n, D]
        };
        let (q, k_heads, v_heads) = (heads(part(0)), heads(k.clone()), heads(v.clone()));
        let y = if dropping || weights.is_some() {
            let att = attention_weights(q, k_heads);
            if let Some(w) = weights {
                *w = Some(att.clone());
            }
            self.attn_dropout.forward(att).matmul(v_heads)
        } else {
            let causal = AttentionModuleOptions { is_causal: true, ..Default::default() };
            attention(q, k_heads, v_heads, None, None, causal)
        }; // [B, H, T, D]
        let y = y.swap_dims(1, 2).reshape([b, t, e]);
        (self.resid_dropout.forward(self.c_proj.forward(y)), (k, v))
    }
}

/// softmax(QKᵀ/√d) with the causal mask, in tensor ops: the reference for burn's fused
/// `attention`, and the weights the page draws. The last query sits at the last key.
///
/// - `q`: `[B, H, Tq, D]`, `k`: `[B, H, Tk, D]` (Tk ≥ Tq) -> `[B, H, Tq, Tk]`
pub fn attention_weights(q: Tensor<4>, k: Tensor<4>) -> Tensor<4> {
    let [b, h, tq, d] = q.dims();
    let tk = k.dims()[2];
    let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((d as f32).sqrt());
    // true above the (shifted) diagonal: the keys after each query
    let future = Tensor::<2, Bool>::tril_mask([tq, tk], (tk - tq) as i64, &scores.device());
    softmax(scores.mask_fill(future.unsqueeze::<4>().expand([b, h, tq, tk]), f32::NEG_INFINITY), 3)
}

/// Each layer's and head's attention over a token sequence, for the page's internals panel.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AttentionMaps {
    /// `[layers][heads][T][T]`: row i is what position i (reading `tokens[i]`, predicting the
    /// next) gave positions 0..=i; the entries after i are 0. Rows sum to 1.
    pub weights: Vec<Vec<Vec<Vec<f32>>>>,
    /// The tokens read, after cropping to the block (the last `block_size`).
    pub tokens: Vec<usize>,
}

/// The attention of every layer and head of `transformer` over `tokens` (cropped to its last
/// `block_size`), read back asynchronously.
pub async fn attention_maps(wte: Tensor<2>, transformer: &Transformer, tokens: &[usize]) -> Result<AttentionMaps, ReadError> {
    let tokens = &tokens[tokens.len().saturating_sub(transformer.block_size())..];
    if tokens.is_empty() {
        return Ok(AttentionMaps { weights: Vec::new(), tokens: Vec::new() });
    }
    let t = tokens.len();
    let ids: Vec<i32> = tokens.iter().map(|&x| x as i32).collect();
    let input = Tensor::<2, Int>::from_data(burn::tensor::TensorData::new(ids, [1, t]), &wte.device());
    let maps = transformer.attention_weights(wte, input);
    let [layers, heads, _, _] = maps.dims();
    let values = read_values(maps).await?;
    let mut rows = values.chunks_exact(t);
    let weights = (0..layers)
        .map(|_| (0..heads).map(|_| (0..t).map(|_| rows.next().expect("L·H·T rows").to_vec()).collect()).collect())
        .collect();
    Ok(AttentionMaps { weights, tokens: tokens.to_vec() })
}
