//! Text a person reads (a concert's title, a section's name, a key a client chose): no
//! character that hides or reorders what is shown. `"Floor\u{200b}A"` looks like `"Floor A"`
//! and is another section; a right-to-left override makes `"A-1"` read backwards. So text is
//! refused when it holds a control character, a bidirectional control, or an invisible
//! formatting character (zero-width spaces and joiners, the word joiner and invisible
//! operators, the byte order mark, soft hyphen, variation selectors, Hangul fillers, tags).

/// Characters that change how text is shown without being seen.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                      // soft hyphen
                | '\u{034F}'                // combining grapheme joiner
                | '\u{061C}'                // Arabic letter mark
                | '\u{115F}'..='\u{1160}'   // Hangul fillers
                | '\u{17B4}'..='\u{17B5}'   // Khmer inherent vowels
                | '\u{180B}'..='\u{180F}'   // Mongolian selectors and vowel separator
                | '\u{200B}'..='\u{200F}'   // zero-width space, joiners, LRM, RLM
                | '\u{2028}'..='\u{202E}'   // line and paragraph separators, bidi embeddings
                | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, bidi isolates
                | '\u{3164}'                // Hangul filler
                | '\u{FE00}'..='\u{FE0F}'   // variation selectors
                | '\u{FEFF}'                // byte order mark
                | '\u{FFA0}'                // halfwidth Hangul filler
                | '\u{FFF0}'..='\u{FFFB}'   // specials, interlinear annotation
                | '\u{1D173}'..='\u{1D17A}' // musical formatting
                | '\u{E0000}'..='\u{E0FFF}' // tags and variation selectors supplement
        )
}

/// The first character of `text` that may not be shown, if any.
pub fn hidden_character(text: &str) -> Option<char> {
    text.chars().find(|c| is_hidden(*c))
}

/// `text` holds only characters that show as themselves.
pub fn is_plain_text(text: &str) -> bool {
    hidden_character(text).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_hides_or_reorders_characters_is_refused() {
        for bad in [
            "Floor\u{200b}A",
            "Floor\u{200d}A",
            "A\u{202e}1-",
            "\u{2066}VIP\u{2069}",
            "\u{feff}Floor A",
            "Floor\tA",
            "Floor\nA",
            "Floor\u{00ad}A",
            "Floor A\u{e0041}",
            "Floor\u{3164}A",
        ] {
            assert!(!is_plain_text(bad), "{bad:?}");
        }
    }

    #[test]
    fn ordinary_text_in_any_script_is_plain() {
        for good in [
            "Floor A",
            "Upper 420",
            "Zone 3-B",
            "서울 콘서트",
            "Café Säal",
            "ホール",
            "😀 Fan zone",
        ] {
            assert!(is_plain_text(good), "{good:?}");
        }
    }
}
