//! HTML to plain text, enough for Mastodon statuses and feed summaries (which are then triaged,
//! never rendered). Tags are dropped, block-level tags become line breaks, `<script>` and
//! `<style>` bodies are skipped, and character references are decoded.

/// Reduces an HTML fragment to plain text. Linear time; never fails.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        push_decoded(&mut out, &rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            // a lone '<' is text
            push_decoded(&mut out, &rest[lt..]);
            rest = "";
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let close = format!("</{name}");
            rest = match find_ascii_case_insensitive(rest, &close) {
                Some(i) => rest[i..].find('>').map_or("", |j| &rest[i + j + 1..]),
                None => "",
            };
            continue;
        }
        if matches!(
            name.as_str(),
            "br" | "p"
                | "div"
                | "li"
                | "tr"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "blockquote"
                | "pre"
                | "ul"
                | "ol"
                | "table"
        ) && !out.is_empty()
            && !out.ends_with('\n')
        {
            out.push('\n');
        }
    }
    push_decoded(&mut out, rest);
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_string()
    }
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    (0..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn push_decoded(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match after
            .find(';')
            .filter(|&i| i <= 10)
            .and_then(|i| decode_entity(&after[..i]).map(|c| (c, i)))
        {
            Some((c, i)) => {
                out.push(c);
                rest = &after[i + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|&c| c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "ldquo" => '\u{201c}',
        "rdquo" => '\u{201d}',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        "uuml" => 'ü',
        "ouml" => 'ö',
        "auml" => 'ä',
        "szlig" => 'ß',
        "copy" => '©',
        "reg" => '®',
        "euro" => '€',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_dropped_and_paragraphs_become_lines() {
        let html = "<p>&quot;I lost my inheritance&quot;</p><p><a href=\"x\"><span class=\"invisible\">https://www.</span><span>theguardian.com/money</span></a></p>";
        assert_eq!(
            html_to_text(html),
            "\"I lost my inheritance\"\nhttps://www.theguardian.com/money"
        );
        assert_eq!(html_to_text("a<br>b<br/>c"), "a\nb\nc");
    }

    #[test]
    fn scripts_styles_and_odd_markup_do_not_leak_or_panic() {
        assert_eq!(
            html_to_text("x<script>alert(1)</script>y<STYLE>p{}</STYLE>z"),
            "xyz"
        );
        assert_eq!(
            html_to_text("1 < 2 &amp; 3 &bogus; &#x1F525; &#0;"),
            "1 < 2 & 3 &bogus; 🔥 &#0;"
        );
        assert_eq!(html_to_text("<script>never closed"), "");
        assert_eq!(html_to_text("café <b>é</b>&eacute;"), "café éé");
    }
}
