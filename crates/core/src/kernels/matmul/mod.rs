//! A matmul on host slices for the CPU loops: natively the `gemm` crate (the one burn's CPU
//! backend uses), in the browser the packed kernel for wasm's 128-bit SIMD (`packed`). Operands
//! are read in place through strides, never copied.

pub mod packed;

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
/// kernel for wasm's 128-bit SIMD in the browser (`packed.rs`, tested against `gemm`).
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
        use packed::View;
        let view = |data: &[f32], rs: isize, cs: isize| View { ptr: data.as_ptr(), row_stride: rs as usize, col_stride: cs as usize };
        // SAFETY: `strides` checked that the slices reach every element the strides describe.
        unsafe { packed::matmul(out, accumulate, view(a, a_rs, a_cs), view(b, b_rs, b_cs), (m, k, n), parallel) };
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

#[cfg(test)]
mod tests {
    use super::*;

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
