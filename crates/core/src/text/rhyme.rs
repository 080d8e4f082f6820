//! Rhyme for 绝句 and 律诗: the even lines' last characters share a rhyme group.
//!
//! Groups are those of 中华新韵 (the fourteen "new rhymes" of the Chinese Poetry Society), from
//! each character's Mandarin pinyin final (the `pinyin` crate's data). What this captures and
//! what it does not:
//! - The check: a polyphonic character belongs to the groups of all its readings (斜 xié/xiá
//!   rhymes with 家 through xiá; 还 hái/huán with 山 through huán), so it is lenient where
//!   readings differ, and a rare reading can make a pair pass (怕 pà/bó with 何 hé).
//! - Rhyme-constrained decoding is strict: it goes by each character's first (most common)
//!   reading (`primary_group`), so what it writes rhymes as a reader would say it.
//! - It follows modern Mandarin, not the 平水韵 the Tang poets used: pairs that rhymed then
//!   but not now (原/昏, 深/簪) fail, and a few pairs that 平水韵 keeps apart pass.
//! - Tone is not checked (rhymes in regulated verse are level-toned; old 入声 characters read
//!   in tones 1 and 2 today would pass anyway), nor is the first line, which may or may not rhyme.

use pinyin::ToPinyinMulti;

use super::verse_lines;

/// A set of rhyme groups, one bit each (see `GROUP_NAMES`).
pub type Groups = u16;

/// 中华新韵's fourteen groups, in bit order.
pub const GROUP_NAMES: [&str; 14] = ["麻", "波", "皆", "开", "微", "豪", "尤", "寒", "文", "唐", "庚", "齐", "支", "姑"];

/// The groups of every reading of `c` (empty for characters without a pinyin reading).
pub fn groups(c: char) -> Groups {
    let Some(readings) = c.to_pinyin_multi() else { return 0 };
    readings.into_iter().filter_map(|p| group_of(p.plain())).fold(0, |set, g| set | 1 << g)
}

/// The group of `c`'s first (most common) reading, as a one-bit set (empty without one).
pub fn primary_group(c: char) -> Groups {
    c.to_pinyin_multi()
        .and_then(|readings| readings.into_iter().next())
        .and_then(|p| group_of(p.plain()))
        .map_or(0, |g| 1 << g)
}

/// Whether the rhyming lines' last characters share a group by their first readings (what
/// rhyme-constrained decoding guarantees; stricter than `rhymes`).
pub fn rhymes_strictly(poem: &str) -> Option<bool> {
    let lines = verse_lines(poem)?;
    let shared = lines.iter().skip(1).step_by(2).map(|l| primary_group(*l.last().expect("non-empty"))).fold(Groups::MAX, |a, b| a & b);
    Some(shared != 0)
}

/// The 新韵 group of a toneless pinyin syllable (`plain()`, with ü), if it has one.
fn group_of(syllable: &str) -> Option<u8> {
    let (initial, final_) = split(syllable)?;
    let group = match final_.as_str() {
        "a" | "ia" | "ua" => 0,
        "o" | "e" | "uo" | "io" => 1,
        "ie" | "üe" | "ê" => 2,
        "ai" | "uai" => 3,
        "ei" | "uei" => 4,
        "ao" | "iao" => 5,
        "ou" | "iou" => 6,
        "an" | "ian" | "uan" | "üan" => 7,
        "en" | "in" | "uen" | "ün" => 8,
        "ang" | "iang" | "uang" => 9,
        "eng" | "ing" | "ueng" | "ong" | "iong" => 10,
        // The apical vowel of zi, ci, si, zhi, chi, shi, ri is 支; every other i is 齐.
        "i" if matches!(initial, "z" | "c" | "s" | "zh" | "ch" | "sh" | "r") => 12,
        "i" | "er" | "ü" => 11,
        "u" => 13,
        _ => return None,
    };
    Some(group)
}

/// Splits a syllable into its initial and its full final (`ui` -> `uei`, `ju` -> `ü` …).
fn split(syllable: &str) -> Option<(&str, String)> {
    if matches!(syllable, "m" | "n" | "ng" | "hm" | "hng") {
        return None; // interjections (呒, 嗯, 哼) have no rhyme
    }
    // y- and w- spell a medial or a vowel, not an initial.
    let spelled = match syllable {
        "yi" => "i", "ya" => "ia", "ye" => "ie", "yao" => "iao", "you" => "iou", "yan" => "ian",
        "yin" => "in", "yang" => "iang", "ying" => "ing", "yong" => "iong", "yo" => "o",
        "yu" => "ü", "yue" => "üe", "yuan" => "üan", "yun" => "ün",
        "wu" => "u", "wa" => "ua", "wo" => "uo", "wai" => "uai", "wei" => "uei", "wan" => "uan",
        "wen" => "uen", "wang" => "uang", "weng" => "ueng", "wong" => "ong",
        _ => "",
    };
    if !spelled.is_empty() {
        return Some(("", spelled.to_string()));
    }
    const INITIALS: [&str; 21] = ["zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z", "c", "s"];
    let initial = INITIALS.iter().find(|i| syllable.len() > i.len() && syllable.starts_with(**i)).copied().unwrap_or("");
    let mut final_ = syllable[initial.len()..].to_string();
    // After j, q, x a written u is ü.
    if matches!(initial, "j" | "q" | "x") && final_.starts_with('u') {
        final_ = final_.replacen('u', "ü", 1);
    }
    let full = match final_.as_str() {
        "ui" => "uei",
        "iu" => "iou",
        "un" => "uen",
        other => other,
    };
    Some((initial, full.to_string()))
}

/// Whether a 绝句 or 律诗 rhymes: the last characters of lines 2, 4 (6, 8) share a group.
/// `None` when the poem is not one of those forms.
pub fn rhymes(poem: &str) -> Option<bool> {
    let lines = verse_lines(poem)?;
    let shared = lines.iter().skip(1).step_by(2).map(|l| groups(*l.last().expect("non-empty"))).fold(Groups::MAX, |a, b| a & b);
    Some(shared != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set of groups by name.
    fn group_names(set: Groups) -> Vec<&'static str> {
        GROUP_NAMES.iter().enumerate().filter(|(i, _)| set & (1 << i) != 0).map(|(_, n)| *n).collect()
    }

    #[test]
    fn readings_map_to_new_rhyme_groups() {
        let name = |c| group_names(groups(c));
        assert_eq!(name('光'), ["唐"]);
        assert_eq!(name('霜'), ["唐"]);
        assert_eq!(name('乡'), ["唐"]);
        assert_eq!(name('诗'), ["支"]); // shi: the apical vowel
        assert_eq!(name('衣'), ["齐"]);
        assert_eq!(name('鱼'), ["齐"]); // yu = ü
        assert_eq!(name('居'), ["齐"]); // ju = ü
        assert_eq!(name('归'), ["微"]); // gui = guei
        assert_eq!(name('秋'), ["尤"]); // qiu = qiou
        assert_eq!(name('春'), ["文"]); // chun = chuen
        assert_eq!(name('东'), ["庚"]); // ong rhymes with eng
        assert!(name('斜').contains(&"麻") && name('斜').contains(&"皆")); // xiá and xié
        assert_eq!(groups('，'), 0);
        // First readings: the common one.
        assert_eq!(group_names(primary_group('还')), ["开"]); // hái (huán is the other)
        assert_eq!(group_names(primary_group('怕')), ["麻"]);
        assert_eq!(group_names(primary_group('何')), ["波"]);
    }

    #[test]
    fn the_strict_check_goes_by_first_readings() {
        assert_eq!(rhymes_strictly("床前明月光，疑是地上霜。举头望明月，低头思故乡。"), Some(true));
        // 还 rhymes with 山 only through its second reading, huán.
        let baidi = "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。";
        assert_eq!((rhymes(baidi), rhymes_strictly(baidi)), (Some(true), Some(false)));
    }

    #[test]
    fn quiet_night_thoughts_rhymes_and_a_made_up_quatrain_does_not() {
        assert_eq!(rhymes("床前明月光，疑是地上霜。举头望明月，低头思故乡。"), Some(true));
        assert_eq!(rhymes("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"), Some(true)); // 流/楼
        assert_eq!(rhymes("朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。"), Some(true)); // 还/山
        // Lines ending 花 (麻), 树 (姑): no shared group.
        assert_eq!(rhymes("春风吹落花，明月照江花。山高不见路，夜深人看树。"), Some(false));
        assert_eq!(rhymes("床前明月光，疑是地上霜。"), None);
    }
}
