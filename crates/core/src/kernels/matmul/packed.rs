//! The browser's CPU matmul: a packed, cache-blocked kernel for wasm's 128-bit SIMD, where
//! `gemm`'s (the reference, `matmul::matmul` natively) runs at ~32 GFLOP/s (BENCHMARKS.md,
//! "The browser's CPU path against native"). Its 12-row micro-tile wants 16 vector registers;
//! V8 gives wasm 15 on x86-64, so every step spills. This one keeps R×8 sums in 2R registers
//! (R = 4: 8 sums, 2 loads of B, 1 broadcast of A).
//!
//! The same code builds natively on four-float arrays so its blocking, packing and edges are
//! tested against `gemm` there; only wasm uses it.

/// Columns of one micro-tile: two 4-lane vectors.
const NR: usize = 8;
/// Rows of one micro-tile.
const MR: usize = 4;
/// Depth of a packed block: a B micro-panel (KC×NR floats, 16 KiB) stays in L1 across the rows
/// (512 measured 3–6 % faster than 256 on the output layer's backward matmuls in V8).
const KC: usize = 512;
/// Rows of A per block (packed when A is read down its columns: MC×KC floats, 64 KiB).
const MC: usize = 64;
/// Columns of B per packed block (KC×NC floats, 1 MiB: L2).
const NC: usize = 512;

#[cfg(target_arch = "wasm32")]
mod lanes {
    use core::arch::wasm32::*;
    pub type F4 = v128;
    #[inline(always)]
    pub fn splat(x: f32) -> F4 {
        f32x4_splat(x)
    }
    /// SAFETY (load, store): `p` points at 4 readable (writable) floats.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> F4 {
        unsafe { v128_load(p as *const v128) }
    }
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, x: F4) {
        unsafe { v128_store(p as *mut v128, x) }
    }
    /// a·b + c: two roundings in wasm's plain SIMD; the relaxed-SIMD build fuses it where the
    /// CPU can (the only relaxed instruction in the module: `block` enables the feature).
    #[inline(always)]
    pub fn mul_add(a: F4, b: F4, c: F4) -> F4 {
        #[cfg(feature = "relaxed-simd")]
        return f32x4_relaxed_madd(a, b, c);
        #[cfg(not(feature = "relaxed-simd"))]
        f32x4_add(c, f32x4_mul(a, b))
    }
    #[inline(always)]
    pub fn add(a: F4, b: F4) -> F4 {
        f32x4_add(a, b)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod lanes {
    pub type F4 = [f32; 4];
    pub fn splat(x: f32) -> F4 {
        [x; 4]
    }
    pub unsafe fn load(p: *const f32) -> F4 {
        unsafe { (p as *const F4).read_unaligned() }
    }
    pub unsafe fn store(p: *mut f32, x: F4) {
        unsafe { (p as *mut F4).write_unaligned(x) }
    }
    pub fn mul_add(a: F4, b: F4, c: F4) -> F4 {
        std::array::from_fn(|i| c[i] + a[i] * b[i])
    }
    pub fn add(a: F4, b: F4) -> F4 {
        std::array::from_fn(|i| a[i] + b[i])
    }
}

use lanes::F4;

/// A matrix as used: element (i, j) at `ptr[i·row_stride + j·col_stride]` (strides in floats).
#[derive(Clone, Copy)]
pub struct View {
    pub ptr: *const f32,
    pub row_stride: usize,
    pub col_stride: usize,
}

/// The output's pointer, shared by the threads that write disjoint blocks of it.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: every thread writes only its own rows × columns block.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}
// SAFETY: a view is read only during the `matmul` call it was made for (its contract).
unsafe impl Send for View {}
unsafe impl Sync for View {}

/// The R×8 sums of one micro-tile over `depth` steps: row i of A is read at `rows[i]`, moving by
/// `a_step` floats a step; B gives 8 contiguous floats a step, `b_step` apart (NR when packed).
///
/// SAFETY: each `rows[i]` has `depth` floats `a_step` apart, `b` has `depth` rows of NR floats,
/// `b_step` apart.
#[inline(always)]
unsafe fn micro_tile(depth: usize, rows: [*const f32; MR], a_step: usize, b: *const f32, b_step: usize) -> [[F4; 2]; MR] {
    let mut sums = [[lanes::splat(0.0); 2]; MR];
    let mut at = 0;
    for p in 0..depth {
        // SAFETY: p < depth, at = p·a_step (the caller's bounds).
        let (b0, b1) = unsafe { (lanes::load(b.add(p * b_step)), lanes::load(b.add(p * b_step + 4))) };
        for i in 0..MR {
            let a = lanes::splat(unsafe { *rows[i].add(at) });
            sums[i][0] = lanes::mul_add(a, b0, sums[i][0]);
            sums[i][1] = lanes::mul_add(a, b1, sums[i][1]);
        }
        at += a_step;
    }
    sums
}

/// Writes (or adds) a micro-tile's first `rows` × `cols` sums into C at `c` (row stride `ldc`).
///
/// SAFETY: C has `rows` rows of `cols` writable floats from `c`, `ldc` apart.
#[inline(always)]
unsafe fn store_tile(sums: [[F4; 2]; MR], c: *mut f32, ldc: usize, rows: usize, cols: usize, add: bool) {
    for (i, row_sums) in sums.iter().enumerate().take(rows) {
        // SAFETY: row i < rows of C (the caller's bounds).
        let row = unsafe { c.add(i * ldc) };
        if cols == NR {
            for (half, &sum) in row_sums.iter().enumerate() {
                // SAFETY: the row has NR = 8 floats from `row`.
                unsafe {
                    let p = row.add(4 * half);
                    lanes::store(p, if add { lanes::add(lanes::load(p), sum) } else { sum });
                }
            }
        } else {
            let mut floats = [0.0f32; NR];
            // SAFETY: `floats` holds NR = 2×4 floats.
            unsafe {
                lanes::store(floats.as_mut_ptr(), row_sums[0]);
                lanes::store(floats.as_mut_ptr().add(4), row_sums[1]);
            }
            for (j, &sum) in floats.iter().enumerate().take(cols) {
                // SAFETY: j < cols of the row.
                unsafe { *row.add(j) = if add { *row.add(j) + sum } else { sum } };
            }
        }
    }
}

/// Packs the block at (`p0`, `j0`), `depth` × `width`, of `src` into micro-panels of W columns
/// (each `depth` × W, row after row), the last one zero-padded: B's panels (W = NR), and A's
/// (W = MR) as panels of Aᵀ.
///
/// SAFETY: `src` reaches every element of the block.
unsafe fn pack_panels<const W: usize>(dst: &mut Vec<f32>, src: View, p0: usize, j0: usize, depth: usize, width: usize) {
    dst.clear();
    dst.resize(width.div_ceil(W) * depth * W, 0.0);
    for (panel_index, panel) in dst.chunks_exact_mut(depth * W).enumerate() {
        let first = j0 + panel_index * W;
        let cols = W.min(j0 + width - first);
        if src.col_stride == 1 {
            for (p, dst_row) in panel.chunks_exact_mut(W).enumerate() {
                // SAFETY: row p0 + p has `cols` floats from column `first`.
                let row = unsafe { std::slice::from_raw_parts(src.ptr.add((p0 + p) * src.row_stride + first), cols) };
                if cols == W {
                    // A whole panel row: a fixed-size copy, which compiles to vector moves (a
                    // variable-size one is a `memory.copy`, which V8 runs as a call out of wasm:
                    // packing the output layer's weight gradient spent a fifth of its time there).
                    let row: &[f32; W] = row.try_into().expect("W floats");
                    *<&mut [f32; W]>::try_from(&mut *dst_row).expect("W floats") = *row;
                } else {
                    dst_row[..cols].copy_from_slice(row);
                }
            }
        } else {
            for j in 0..cols {
                // SAFETY: column first + j has `depth` floats from row p0, row_stride apart.
                let col = unsafe { src.ptr.add((first + j) * src.col_stride + p0 * src.row_stride) };
                for p in 0..depth {
                    panel[p * W + j] = unsafe { *col.add(p * src.row_stride) };
                }
            }
        }
    }
}

/// C's block rows × cols (+)= A[rows, ..] · B[.., cols], on this thread. A is read in place
/// when its rows are contiguous, else packed. B is packed, except for a few rows of C (a GRU
/// time step's 32) when its rows are contiguous and the columns are whole panels of NR: packing
/// it would cost more than its reuse saves.
///
/// SAFETY: A is m×k and B k×n through their views, C holds the block at row stride `ldc`.
#[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
#[allow(clippy::too_many_arguments)]
unsafe fn block(a: View, b: View, c: Out, ldc: usize, k: usize, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>, accumulate: bool) {
    let (mut b_panels, mut a_panels) = (Vec::new(), Vec::new());
    let pack_rows = a.col_stride != 1;
    let b_in_place = b.col_stride == 1 && rows.len() <= MC && cols.len() % NR == 0;
    for j0 in cols.clone().step_by(NC) {
        let width = NC.min(cols.end - j0);
        for p0 in (0..k).step_by(KC) {
            let depth = KC.min(k - p0);
            // SAFETY (this block): the packed panels and the views cover what is read, and
            // every tile written lies inside C's block (the caller's bounds).
            if !b_in_place {
                unsafe { pack_panels::<NR>(&mut b_panels, b, p0, j0, depth, width) };
            }
            let add = accumulate || p0 > 0;
            for i0 in rows.clone().step_by(MC) {
                let height = MC.min(rows.end - i0);
                if pack_rows {
                    let a_transposed = View { ptr: a.ptr, row_stride: a.col_stride, col_stride: a.row_stride };
                    unsafe { pack_panels::<MR>(&mut a_panels, a_transposed, p0, i0, depth, height) };
                }
                for jr in (0..width).step_by(NR) {
                    let (b_panel, b_step) = if b_in_place {
                        (unsafe { b.ptr.add(p0 * b.row_stride + j0 + jr) }, b.row_stride)
                    } else {
                        (unsafe { b_panels.as_ptr().add(jr * depth) }, NR)
                    };
                    for ir in (0..height).step_by(MR) {
                        let tile_rows = MR.min(height - ir);
                        let (starts, a_step) = if pack_rows {
                            let panel = unsafe { a_panels.as_ptr().add((ir / MR) * depth * MR) };
                            (std::array::from_fn(|i| unsafe { panel.add(i) }), MR)
                        } else {
                            // Rows past the tile's end re-read its last row (their sums are dropped).
                            let first = unsafe { a.ptr.add((i0 + ir) * a.row_stride + p0) };
                            (std::array::from_fn(|i| unsafe { first.add(i.min(tile_rows - 1) * a.row_stride) }), 1)
                        };
                        let sums = unsafe { micro_tile(depth, starts, a_step, b_panel, b_step) };
                        let at = unsafe { c.0.add((i0 + ir) * ldc + j0 + jr) };
                        unsafe { store_tile(sums, at, ldc, tile_rows, NR.min(width - jr), add) };
                    }
                }
            }
        }
    }
}

/// `out[m×n] (+)= a · b` with A m×k and B k×n as the views describe. Large products are split
/// over rayon's threads by their longer side (each thread packs its own panels).
///
/// # Safety
/// The views reach m×k and k×n elements, `out` holds m×n floats, and neither view overlaps `out`.
pub unsafe fn matmul(out: &mut [f32], accumulate: bool, a: View, b: View, (m, k, n): (usize, usize, usize), parallel: bool) {
    assert!(out.len() >= m * n, "matmul output too short");
    let c = Out(out.as_mut_ptr());
    if k == 0 {
        if !accumulate {
            out[..m * n].fill(0.0);
        }
        return;
    }
    let threads = if parallel { rayon::current_num_threads() } else { 1 };
    if threads <= 1 || m.max(n) < 2 * NR * threads {
        // SAFETY: the caller's bounds.
        return unsafe { block(a, b, c, n, k, 0..m, 0..n, accumulate) };
    }
    let (side, unit) = if m >= n { (m, MR) } else { (n, NR) };
    let chunk = side.div_ceil(threads).div_ceil(unit) * unit;
    rayon::scope(|scope| {
        for start in (0..side).step_by(chunk) {
            let part = start..(start + chunk).min(side);
            let (rows, cols) = if m >= n { (part, 0..n) } else { (0..m, part) };
            // SAFETY: the caller's bounds; the threads' blocks of C are disjoint.
            scope.spawn(move |_| unsafe { block(a, b, c, n, k, rows, cols, accumulate) });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::{Layout, matmul as reference};

    fn view(data: &[f32], layout: Layout, (rows, cols): (usize, usize)) -> View {
        match layout {
            Layout::Plain => View { ptr: data.as_ptr(), row_stride: cols, col_stride: 1 },
            Layout::Transposed => View { ptr: data.as_ptr(), row_stride: 1, col_stride: rows },
            Layout::Band { row_stride, first } => View { ptr: data.as_ptr().wrapping_add(first), row_stride, col_stride: 1 },
        }
    }

    #[test]
    fn matches_gemm_on_every_layout_edge_and_block_boundary() {
        let mut seed = 1u32;
        let mut random = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        // Empty products; edges of tiles (not multiples of 4 or 8), of blocks (KC, MC, NC) and of
        // the split; B read in place (few rows, whole panels: a GRU step's shape), alone and split.
        let shapes = [(0, 5, 40), (3, 0, 7), (40, 5, 0), (1, 1, 1), (3, 5, 7), (5, 257, 9), (67, 300, 530), (130, 40, 17), (17, 600, 1030), (9, 300, 24), (33, 70, 528)];
        // Three threads whatever the machine has, so the split (and its uneven last part) is tested.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for (m, k, n) in shapes {
            let a: Vec<f32> = (0..m * k).map(|_| random()).collect();
            // B also as a band of a wider matrix (the GRU's gate gradients).
            let b: Vec<f32> = (0..k * (n + 3)).map(|_| random()).collect();
            let start: Vec<f32> = (0..m * n).map(|_| random()).collect();
            for a_layout in [Layout::Plain, Layout::Transposed] {
                for b_layout in [Layout::Plain, Layout::Transposed, Layout::Band { row_stride: n + 3, first: 2 }] {
                    for accumulate in [false, true] {
                        for parallel in [false, true] {
                            let (mut ours, mut want) = (start.clone(), start.clone());
                            reference(&mut want, accumulate, &a, a_layout, &b, b_layout, (m, k, n));
                            // SAFETY: the views describe a (m×k) and b (k×n) in their layouts.
                            unsafe {
                                let (av, bv) = (view(&a, a_layout, (m, k)), view(&b, b_layout, (k, n)));
                                pool.install(|| matmul(&mut ours, accumulate, av, bv, (m, k, n), parallel));
                            }
                            let worst = ours.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
                            assert!(worst < 1e-4, "{m}×{k}×{n} {accumulate} {parallel}: off by {worst}");
                        }
                    }
                }
            }
        }
    }
}
