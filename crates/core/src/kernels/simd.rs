//! What the CPU loops (`gru/cpu.rs`, `output/cpu.rs`) share besides the matmul: e^x, σ and
//! tanh written so the compiler vectorises them (libm's are a call per element), and a macro
//! that compiles a loop for the widest vector unit the CPU has.

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
}
