//! The poem model: Embedding -> GRU (PyTorch `nn.GRU` semantics) -> Linear over the vocabulary.
//!
//! The GRU projects every time step's input in one matmul before the recurrence, and the
//! three gates' hidden projections in one matmul per step: the recurrence is the only
//! sequential part, so it should launch as few kernels as possible.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::module::embedding;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;

/// The model's size, chosen before the vocabulary is known.
#[derive(Config, Debug, PartialEq)]
pub struct ModelShape {
    #[config(default = 128)]
    pub embedding: usize,
    #[config(default = 256)]
    pub hidden: usize,
    #[config(default = 1)]
    pub layers: usize,
    /// Dropout between GRU layers (as `nn.GRU`'s `dropout`), active only while training.
    #[config(default = 0.0)]
    pub dropout: f64,
}

#[derive(Config, Debug, PartialEq)]
pub struct PoemModelConfig {
    /// Tokens in the vocabulary, specials included.
    pub vocab_size: usize,
    pub shape: ModelShape,
}

/// One GRU layer. Weights are stored `[input, 3 * hidden]` (gate order r, z, n) so the
/// forward is `x @ W`; the PyTorch export transposes them to `[3 * hidden, input]`.
#[derive(Module, Debug)]
pub struct GruLayer {
    pub weight_ih: Param<Tensor<2>>,
    pub weight_hh: Param<Tensor<2>>,
    /// `[1, 3 * hidden]`, kept rank 2 so every parameter has one rank.
    pub bias_ih: Param<Tensor<2>>,
    pub bias_hh: Param<Tensor<2>>,
}

impl GruLayer {
    /// Runs the layer over a time-major sequence.
    ///
    /// - `x`: `[T, B, I]`, `h`: `[B, H]`
    /// - returns all hidden states `[T, B, H]` and the last one `[B, H]`
    pub fn forward(&self, x: Tensor<3>, mut h: Tensor<2>) -> (Tensor<3>, Tensor<2>) {
        let [t_len, batch, d_in] = x.dims();
        let d_h = self.weight_hh.dims()[0];
        // All input projections at once: [T*B, I] @ [I, 3H] -> [T, B, 3H]
        let gi = (x.reshape([t_len * batch, d_in]).matmul(self.weight_ih.val())
            + self.bias_ih.val())
        .reshape([t_len, batch, 3 * d_h]);
        let (w_hh, b_hh) = (self.weight_hh.val(), self.bias_hh.val());
        let mut outputs = Vec::with_capacity(t_len);
        for t in 0..t_len {
            let gi_t = gi.clone().narrow(0, t, 1).reshape([batch, 3 * d_h]); // [B, 3H]
            let gh = h.clone().matmul(w_hh.clone()) + b_hh.clone(); // [B, 3H]
            // r and z in one sigmoid: [B, 2H]
            let rz = sigmoid(gi_t.clone().narrow(1, 0, 2 * d_h) + gh.clone().narrow(1, 0, 2 * d_h));
            let r = rz.clone().narrow(1, 0, d_h);
            let z = rz.narrow(1, d_h, d_h);
            // reset_after: r gates the hidden projection, bias included (PyTorch).
            let n = tanh(gi_t.narrow(1, 2 * d_h, d_h) + r * gh.narrow(1, 2 * d_h, d_h));
            h = n.clone() + z * (h - n); // (1 - z) * n + z * h
            outputs.push(h.clone());
        }
        (Tensor::stack(outputs, 0), h)
    }
}

#[derive(Module, Debug)]
pub struct PoemModel {
    /// `[V, E]`
    pub embedding: Param<Tensor<2>>,
    pub gru: Vec<GruLayer>,
    /// `[H, V]`
    pub fc_weight: Param<Tensor<2>>,
    /// `[1, V]`
    pub fc_bias: Param<Tensor<2>>,
    pub dropout: Dropout,
}

impl PoemModelConfig {
    /// Initialises weights as PyTorch does (embedding N(0, 1); GRU and Linear
    /// U(-1/sqrt(fan), 1/sqrt(fan))), from a seed, on the host, so every device starts alike.
    pub fn init(&self, device: &Device, seed: u64) -> PoemModel {
        let mut rng = StdRng::seed_from_u64(seed);
        let params = self
            .param_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let values: Vec<f32> = if name == "embedding.weight" {
                    (0..shape[0] * shape[1]).map(|_| rng.sample(StandardNormal)).collect()
                } else {
                    // GRU and fc both have fan-in `hidden` in PyTorch's init.
                    let k = 1.0 / (self.shape.hidden as f32).sqrt();
                    (0..shape[0] * shape[1]).map(|_| rng.random_range(-k..k)).collect()
                };
                Tensor::from_data(TensorData::new(values, shape), device)
            })
            .collect();
        self.from_params(params)
    }

    /// Parameter names (PyTorch's, see `checkpoint`) and their shapes here, in a fixed order.
    pub fn param_shapes(&self) -> Vec<(String, [usize; 2])> {
        let (e, h, v) = (self.shape.embedding, self.shape.hidden, self.vocab_size);
        let mut shapes = vec![("embedding.weight".to_string(), [v, e])];
        for l in 0..self.shape.layers {
            let d_in = if l == 0 { e } else { h };
            shapes.push((format!("gru.weight_ih_l{l}"), [d_in, 3 * h]));
            shapes.push((format!("gru.weight_hh_l{l}"), [h, 3 * h]));
            shapes.push((format!("gru.bias_ih_l{l}"), [1, 3 * h]));
            shapes.push((format!("gru.bias_hh_l{l}"), [1, 3 * h]));
        }
        shapes.push(("fc.weight".to_string(), [h, v]));
        shapes.push(("fc.bias".to_string(), [1, v]));
        shapes
    }

    /// Builds a model from tensors in `param_shapes` order.
    pub fn from_params(&self, params: Vec<Tensor<2>>) -> PoemModel {
        assert_eq!(params.len(), 3 + 4 * self.shape.layers, "parameter count");
        let mut it = params.into_iter().map(Param::from_tensor);
        let mut next = || it.next().expect("counted above");
        let embedding = next();
        let gru = (0..self.shape.layers)
            .map(|_| GruLayer { weight_ih: next(), weight_hh: next(), bias_ih: next(), bias_hh: next() })
            .collect();
        PoemModel {
            embedding,
            gru,
            fc_weight: next(),
            fc_bias: next(),
            dropout: DropoutConfig::new(self.shape.dropout).init(),
        }
    }

    pub fn num_params(&self) -> usize {
        self.param_shapes().iter().map(|(_, s)| s[0] * s[1]).sum()
    }
}

impl PoemModel {
    /// The parameters in `PoemModelConfig::param_shapes` order.
    pub fn params(&self) -> Vec<Tensor<2>> {
        let mut out = vec![self.embedding.val()];
        for layer in &self.gru {
            out.extend([
                layer.weight_ih.val(),
                layer.weight_hh.val(),
                layer.bias_ih.val(),
                layer.bias_hh.val(),
            ]);
        }
        out.extend([self.fc_weight.val(), self.fc_bias.val()]);
        out
    }

    pub fn hidden_size(&self) -> usize {
        self.fc_weight.dims()[0]
    }

    /// - `tokens`: `[B, T]`; `state`: `[L, B, H]` or `None` for zeros
    /// - returns logits `[B, T, V]` and the final state `[L, B, H]`
    pub fn forward(&self, tokens: Tensor<2, Int>, state: Option<Tensor<3>>) -> (Tensor<3>, Tensor<3>) {
        let [batch, t_len] = tokens.dims();
        let (hidden, finals) = self.hidden_states(tokens, state); // [B*T, H]
        let logits = hidden.matmul(self.fc_weight.val()) + self.fc_bias.val(); // [B*T, V]
        let vocab = logits.dims()[1];
        (logits.reshape([batch, t_len, vocab]), finals)
    }

    /// Everything before the output layer (training works the output layer's gradients by hand).
    ///
    /// - `tokens`: `[B, T]`; `state`: `[L, B, H]` or `None` for zeros
    /// - returns the last layer's hidden states batch-major `[B*T, H]` and the final state `[L, B, H]`
    pub fn hidden_states(&self, tokens: Tensor<2, Int>, state: Option<Tensor<3>>) -> (Tensor<2>, Tensor<3>) {
        let [batch, t_len] = tokens.dims();
        let device = tokens.device();
        let d_h = self.hidden_size();
        let state = state
            .unwrap_or_else(|| Tensor::zeros([self.gru.len(), batch, d_h], &device));
        // Time-major so each step's slice is contiguous: [T, B, E]
        let mut x = embedding(self.embedding.val(), tokens.swap_dims(0, 1));
        let mut finals = Vec::with_capacity(self.gru.len());
        for (l, layer) in self.gru.iter().enumerate() {
            if l > 0 {
                x = self.dropout.forward(x);
            }
            let h0 = state.clone().narrow(0, l, 1).reshape([batch, d_h]);
            let (out, h_last) = layer.forward(x, h0); // [T, B, H], [B, H]
            x = out;
            finals.push(h_last);
        }
        let hidden = x.swap_dims(0, 1).reshape([batch * t_len, d_h]); // [B*T, H]
        (hidden, Tensor::stack(finals, 0))
    }
}
