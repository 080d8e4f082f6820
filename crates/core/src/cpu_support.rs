//! What the CPU kernels (`output_cpu.rs`, the CPU half of `gru_kernel.rs`) share: a matmul on
//! host slices (natively the `gemm` crate, the one burn's CPU backend uses; in the browser
//! `packed_matmul.rs`), and e^x, σ and tanh
//! written so the compiler vectorises them (libm's are a call per element).

/// Defines `fn $name(args) -> R` that runs `$portable` (an `#[inline(always)]` fn of the same
/// signature) compiled for the widest vector unit the CPU has, AVX-512 or AVX2 + FMA (checked
/// at run time; the portable build targets plain x86-64), else as built. The numerics do not
/// change with the width: the loops keep fixed lane counts and Rust never fuses a*b+c itself.
macro_rules! widest_simd {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $portable:path) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? { $portable($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? { $portable($($arg),*) }
                let has_avx2_fma = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
                if has_avx2_fma && std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F, AVX2 and FMA, checked just above.
                    return unsafe { avx512($($arg),*) };
                }
                if has_avx2_fma {
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
    };
}
pub(crate) use widest_simd;

/// Matmuls smaller than this run on one thread: waking the pool costs more than it saves (in
/// the browser, where the packed kernel is 2–3x slower per core, it pays sooner).
#[cfg(not(target_arch = "wasm32"))]
const SERIAL_MACS: usize = 16 << 20;
#[cfg(target_arch = "wasm32")]
const SERIAL_MACS: usize = 1 << 20;

/// How an operand of [`matmul`] is laid out in its slice (read through strides, never copied).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The matrix row-major as used.
    Plain,
    /// Its transpose row-major.
    Transposed,
    /// Columns `first..` of a wider row-major matrix whose rows are `row_stride` apart (the
    /// GRU's gate gradients are bands of one `[T·B, 4H]` buffer).
    Band { row_stride: usize, first: usize },
}

impl Layout {
    /// (offset, row stride, column stride) of a `rows × cols` operand, after checking that
    /// `len` floats reach all of it.
    fn strides(self, len: usize, rows: usize, cols: usize) -> (usize, isize, isize) {
        let (offset, rs, cs) = match self {
            Layout::Plain => (0, cols, 1),
            Layout::Transposed => (0, 1, rows),
            Layout::Band { row_stride, first } => {
                assert!(first + cols <= row_stride, "a band wider than its rows");
                (first, row_stride, 1)
            }
        };
        if rows == 0 || cols == 0 {
            return (0, rs as isize, cs as isize); // nothing is read
        }
        assert!(len > offset + (rows - 1) * rs + (cols - 1) * cs, "matmul operand too short");
        (offset, rs as isize, cs as isize)
    }
}

/// `out[m×n] (+)= a[m×k] · b[k×n]` (`accumulate` adds to `out`): `gemm` natively, the packed
/// kernel for wasm's 128-bit SIMD in the browser (`packed_matmul.rs`, tested against `gemm`).
pub fn matmul(out: &mut [f32], accumulate: bool, a: &[f32], a_layout: Layout, b: &[f32], b_layout: Layout, (m, k, n): (usize, usize, usize)) {
    matmul_with(m * n * k > SERIAL_MACS, out, accumulate, a, a_layout, b, b_layout, (m, k, n));
}

/// [`matmul`] on the calling thread, for callers that already keep every core busy.
pub fn matmul_on_this_thread(out: &mut [f32], accumulate: bool, a: &[f32], a_layout: Layout, b: &[f32], b_layout: Layout, dims: (usize, usize, usize)) {
    matmul_with(false, out, accumulate, a, a_layout, b, b_layout, dims);
}

#[allow(clippy::too_many_arguments)]
fn matmul_with(parallel: bool, out: &mut [f32], accumulate: bool, a: &[f32], a_layout: Layout, b: &[f32], b_layout: Layout, (m, k, n): (usize, usize, usize)) {
    assert!(out.len() >= m * n, "matmul output too short");
    let (a_offset, a_rs, a_cs) = a_layout.strides(a.len(), m, k);
    let (b_offset, b_rs, b_cs) = b_layout.strides(b.len(), k, n);
    let (a, b) = (&a[a_offset..], &b[b_offset..]);
    #[cfg(target_arch = "wasm32")]
    {
        use crate::packed_matmul::View;
        let view = |data: &[f32], rs: isize, cs: isize| View { ptr: data.as_ptr(), row_stride: rs as usize, col_stride: cs as usize };
        // SAFETY: `strides` checked that the slices reach every element the strides describe.
        unsafe { crate::packed_matmul::matmul(out, accumulate, view(a, a_rs, a_cs), view(b, b_rs, b_cs), (m, k, n), parallel) };
    }
    #[cfg(not(target_arch = "wasm32"))]
    // SAFETY: `strides` checked that the slices reach every element the strides describe.
    unsafe {
        let parallelism = if parallel { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
        gemm::gemm(
            m, n, k,
            out.as_mut_ptr(), 1, n as isize, accumulate,
            a.as_ptr(), a_cs, a_rs,
            b.as_ptr(), b_cs, b_rs,
            1.0, 1.0, false, false, false,
            parallelism,
        );
    }
}

/// e^x for x ≤ 0: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor polynomial to r⁶
/// (relative error below 2e-7), 2^n by building the float's exponent. No float-to-int
/// conversion (Rust's saturating `as i32` costs a compare-and-select per lane): n is read from the
/// mantissa bits of the rounding sum.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5·2²³ rounds to the nearest integer in f32 arithmetic (no `round` call), and
    // leaves that integer in the sum's low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    // e^-87 is at the bottom of f32's normal range: below, 0 is exact enough (and NaN, from
    // -inf minus -inf at a lane's start, becomes -87 too: the lane's empty sum stays 0).
    let x = if x > -87.0 { x } else { -87.0 };
    let rounded = x * LOG2_E + ROUND;
    let n = rounded - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n ∈ [-126, 0], so `rounded` is exactly ROUND + n (same binade, ulp 1): its bits minus
    // ROUND's are n (two's complement); n plus the bias 127 is the exponent of 2^n.
    let exponent = rounded.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127);
    f32::from_bits(exponent << 23) * p
}

/// σ(x) = 1 / (1 + e^-x), through e^-|x| so the exponential never overflows.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 { s } else { e * s }
}

/// tanh(x) = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|); absolute error below 1e-6.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let e = exp_nonpositive(-2.0 * x.abs());
    let t = (1.0 - e) / (1.0 + e);
    if x >= 0.0 { t } else { -t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vectorised_functions_are_as_good_as_libm() {
        let mut worst = 0.0f32;
        for i in 0..200_000 {
            let x = -87.0 * i as f32 / 200_000.0;
            let (ours, libm) = (exp_nonpositive(x), x.exp());
            worst = worst.max((ours - libm).abs() / libm.max(f32::MIN_POSITIVE));
        }
        assert!(worst < 5e-7, "exp: worst relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-200.0) < 1e-37);
        let (mut worst_sigmoid, mut worst_tanh) = (0.0f32, 0.0f32);
        for i in -200_000..=200_000 {
            let x = i as f32 / 5_000.0; // -40 … 40
            worst_sigmoid = worst_sigmoid.max((sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs());
            worst_tanh = worst_tanh.max((tanh(x) - x.tanh()).abs());
        }
        assert!(worst_sigmoid < 1e-6, "sigmoid: worst absolute error {worst_sigmoid}");
        assert!(worst_tanh < 1e-6, "tanh: worst absolute error {worst_tanh}");
        assert!(sigmoid(f32::INFINITY) == 1.0 && sigmoid(f32::NEG_INFINITY) < 1e-37);
        assert_eq!((tanh(f32::INFINITY), tanh(f32::NEG_INFINITY)), (1.0, -1.0));
    }

    #[test]
    fn matmul_reads_transposed_and_banded_operands_through_strides() {
        // a = [[1, 2, 3], [4, 5, 6]] (2×3), b = [[1, 0], [0, 1], [1, 1]] (3×2): a·b = [[4, 5], [10, 11]]
        let (a, a_t) = ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        // The same matrices as bands of wider ones (9s around them).
        let a_band = [9.0, 1.0, 2.0, 3.0, 9.0, 4.0, 5.0, 6.0];
        let b_band = [9.0, 9.0, 1.0, 0.0, 9.0, 9.0, 0.0, 1.0, 9.0, 9.0, 1.0, 1.0];
        let (b, b_t) = ([1.0, 0.0, 0.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
        let a_band_layout = Layout::Band { row_stride: 4, first: 1 };
        let b_band_layout = Layout::Band { row_stride: 4, first: 2 };
        for (a, a_layout) in [(&a[..], Layout::Plain), (&a_t, Layout::Transposed), (&a_band, a_band_layout)] {
            for (b, b_layout) in [(&b[..], Layout::Plain), (&b_t, Layout::Transposed), (&b_band, b_band_layout)] {
                let mut out = [100.0; 4];
                matmul(&mut out, false, a, a_layout, b, b_layout, (2, 3, 2));
                assert_eq!(out, [4.0, 5.0, 10.0, 11.0]);
                matmul(&mut out, true, a, a_layout, b, b_layout, (2, 3, 2));
                assert_eq!(out, [8.0, 10.0, 20.0, 22.0]);
            }
        }
    }

    #[test]
    #[should_panic(expected = "matmul operand too short")]
    fn a_band_past_its_slice_is_refused() {
        let mut out = [0.0; 4];
        matmul(&mut out, false, &[1.0; 7], Layout::Band { row_stride: 4, first: 1 }, &[1.0; 6], Layout::Plain, (2, 3, 2));
    }
}
