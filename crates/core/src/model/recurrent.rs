//! One recurrent layer (RNN, LSTM or GRU, as PyTorch defines them): the GRU runs as the fused
//! kernel where `kernels::route` allows, else (and for the other cells, or with probes) step by
//! step as tensor ops, which are also the GRU kernel's reference. Uses `kernels` and `readback`.
//!
//! Each layer projects every time step's input in one matmul before the recurrence, and all
//! gates' hidden projections in one matmul per step: the recurrence is the only sequential
//! part, so it should launch as few kernels as possible.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::activation::{sigmoid, tanh};

use super::Cell;
use crate::kernels::{KernelCheck, flat, gru, run_both};
use crate::readback::ReadError;

/// One recurrent layer. Weights are stored `[input, gates * hidden]` (PyTorch's gate order)
/// so the forward is `x @ W`; the PyTorch export transposes them to `[gates * hidden, input]`.
#[derive(Module, Debug)]
pub struct RecurrentLayer {
    pub weight_ih: Param<Tensor<2>>,
    pub weight_hh: Param<Tensor<2>>,
    /// `[1, gates * hidden]`, kept rank 2 so every parameter has one rank.
    pub bias_ih: Param<Tensor<2>>,
    pub bias_hh: Param<Tensor<2>>,
    #[module(skip)]
    pub cell: Cell,
}

/// A layer's state: `h` `[B, H]`, and the LSTM's cell state `c` `[B, H]`.
#[derive(Debug, Clone)]
pub struct LayerState {
    pub h: Tensor<2>,
    pub c: Option<Tensor<2>>,
}

/// What a layer can report besides its outputs (for the classroom's views of the insides).
#[derive(Default)]
pub struct Probes {
    /// Added to h_t (zeros with gradients tracked): the gradient of a probe is ∂L/∂h_t.
    pub hidden: Option<Vec<Tensor<2>>>,
    /// Collects the gate that decides how much of the past is kept: GRU z, LSTM f.
    pub gates: Option<Vec<Tensor<2>>>,
}

impl RecurrentLayer {
    pub fn hidden_size(&self) -> usize {
        self.weight_hh.dims()[0]
    }

    /// Runs the layer over a time-major sequence.
    ///
    /// - `x`: `[T, B, I]`, `state`: `[B, H]` each
    /// - returns all hidden states `[T, B, H]` and the final state
    pub fn forward(&self, x: Tensor<3>, state: LayerState, probes: &mut Probes) -> (Tensor<3>, LayerState) {
        // The GRU layer is one operation (on a GPU its recurrence is one kernel), unless the
        // classroom's probes want the insides of each step.
        let probed = probes.hidden.is_some() || probes.gates.is_some();
        if self.cell == Cell::Gru && !probed {
            let [t_len, batch, _] = x.dims();
            let (w_ih, b_ih, w_hh, b_hh) = (self.weight_ih.val(), self.bias_ih.val(), self.weight_hh.val(), self.bias_hh.val());
            if let Some(hs) = gru::gru_layer(&x, &w_ih, &b_ih, &w_hh, &b_hh, &state.h) {
                let last = hs.clone().narrow(0, t_len, 1).reshape([batch, self.hidden_size()]);
                return (hs.narrow(0, 1, t_len), LayerState { h: last, c: None });
            }
        }
        self.forward_tensor_ops(x, state, probes)
    }

    /// All time steps' input projections at once: `[T, B, I]` @ `[I, gH]` -> `[T, B, gH]`.
    fn input_projections(&self, x: Tensor<3>) -> Tensor<3> {
        let [t_len, batch, d_in] = x.dims();
        let gh = self.weight_ih.dims()[1];
        (x.reshape([t_len * batch, d_in]).matmul(self.weight_ih.val()) + self.bias_ih.val()).reshape([t_len, batch, gh])
    }

    /// `forward` step by step with tensor ops: the RNN and LSTM always, the GRU where its kernel
/// does not run (or with probes), and the GRU kernel's reference.
    pub fn forward_tensor_ops(&self, x: Tensor<3>, state: LayerState, probes: &mut Probes) -> (Tensor<3>, LayerState) {
        let [t_len, batch, _] = x.dims();
        let (d_h, g) = (self.hidden_size(), self.cell.gates());
        let gi = self.input_projections(x); // [T, B, gH]
        let (w_hh, b_hh) = (self.weight_hh.val(), self.bias_hh.val());
        let LayerState { mut h, mut c } = state;
        let mut outputs = Vec::with_capacity(t_len);
        for t in 0..t_len {
            let gi_t = gi.clone().narrow(0, t, 1).reshape([batch, g * d_h]); // [B, gH]
            let gh = h.clone().matmul(w_hh.clone()) + b_hh.clone(); // [B, gH]
            let gate = |a: &Tensor<2>, k: usize| a.clone().narrow(1, k * d_h, d_h); // [B, H]
            let kept = match self.cell {
                Cell::Rnn => {
                    h = tanh(gi_t + gh);
                    None
                }
                Cell::Lstm => {
                    let pre = gi_t + gh; // i, f, g, o
                    let (i, f, o) = (sigmoid(gate(&pre, 0)), sigmoid(gate(&pre, 1)), sigmoid(gate(&pre, 3)));
                    let c_prev = c.take().unwrap_or_else(|| h.zeros_like());
                    let c_next = f.clone() * c_prev + i * tanh(gate(&pre, 2));
                    h = o * tanh(c_next.clone());
                    c = Some(c_next);
                    Some(f)
                }
                Cell::Gru => {
                    // r and z in one sigmoid: [B, 2H]
                    let rz = sigmoid(gi_t.clone().narrow(1, 0, 2 * d_h) + gh.clone().narrow(1, 0, 2 * d_h));
                    let (r, z) = (gate(&rz, 0), gate(&rz, 1));
                    // reset_after: r gates the hidden projection, bias included (PyTorch).
                    let n = tanh(gate(&gi_t, 2) + r * gate(&gh, 2));
                    h = n.clone() + z.clone() * (h - n); // (1 - z) * n + z * h
                    Some(z)
                }
                Cell::Transformer => unreachable!("PoemModel builds no recurrent layer for it"),
            };
            if let (Some(gates), Some(kept)) = (probes.gates.as_mut(), kept) {
                gates.push(kept);
            }
            if let Some(p) = probes.hidden.as_ref().and_then(|p| p.get(t)) {
                h = h + p.clone();
            }
            outputs.push(h.clone());
        }
        (Tensor::stack(outputs, 0), LayerState { h, c })
    }
}

/// How far the fused recurrence is from the tensor-op GRU on a device: forward and every
/// gradient of a loss that weighs each output differently. `None` when the device has no fused
/// recurrence.
pub async fn check_gru_kernel(device: &burn::tensor::Device) -> Result<Option<KernelCheck>, ReadError> {
    use burn::tensor::TensorData;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    let (t, b, i, h) = (7, 3, 6, 5);
    let mut rng = StdRng::seed_from_u64(11);
    let mut random = |shape: [usize; 3]| -> Tensor<3> {
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.random_range(-0.5f32..0.5)).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    };
    let x = random([t, b, i]);
    let matrix = |t: Tensor<3>| -> Tensor<2> { let [a, b, c] = t.dims(); t.reshape([a * b, c]) };
    let params = [matrix(random([1, i, 3 * h])), matrix(random([1, h, 3 * h])), matrix(random([1, 1, 3 * h])), matrix(random([1, 1, 3 * h]))];
    let h0 = matrix(random([1, b, h]));
    let weights = random([t, b, h]);
    let last_weights = matrix(random([1, b, h]));
    if !gru::usable(device, h) {
        return Ok(None);
    }

    let runs = run_both(|fused| {
        let tracked: Vec<Tensor<2>> = params.iter().map(|p| p.clone().autodiff().require_grad()).collect();
        let layer = RecurrentLayer {
            weight_ih: Param::from_tensor(tracked[0].clone()),
            weight_hh: Param::from_tensor(tracked[1].clone()),
            bias_ih: Param::from_tensor(tracked[2].clone()),
            bias_hh: Param::from_tensor(tracked[3].clone()),
            cell: Cell::Gru,
        };
        let (x, h0) = (x.clone().autodiff().require_grad(), h0.clone().autodiff().require_grad());
        let state = LayerState { h: h0.clone(), c: None };
        let (out, last) = if fused {
            layer.forward(x.clone(), state, &mut Probes::default())
        } else {
            layer.forward_tensor_ops(x.clone(), state, &mut Probes::default())
        };
        let loss = (out.clone() * weights.clone().autodiff()).sum() + (last.h * last_weights.clone().autodiff()).sum();
        let grads = loss.backward();
        let mut values = vec![flat(out.inner())];
        values.extend(tracked.iter().chain([&h0]).map(|p| flat(p.grad(&grads).expect("tracked"))));
        values.push(flat(x.grad(&grads).expect("tracked")));
        values
    })
    .await?;
    Ok(Some(KernelCheck::compare(&["outputs", "dW_ih", "dW_hh", "db_ih", "db_hh", "dh0", "dx"], runs)))
}
