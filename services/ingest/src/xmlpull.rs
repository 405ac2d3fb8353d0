//! A small, safe pull reader over quick-xml for the Qualys, OpenVAS and
//! Nexpose parsers: it tracks the open-element path, collects the text of
//! the elements a parser asks for (capped at [`MAX_FIELD_BYTES`]), and turns
//! every way a document can be unusable into a one-line [`ParseError`].
//!
//! # Safety rules
//!
//! - Only UTF-8 (or its ASCII subset) is accepted; a declaration naming
//!   another encoding and bytes that are not UTF-8 are refused.
//! - A `<!DOCTYPE>` **with an internal subset** (`[ … ]`, where entities can
//!   be declared: XXE, "billion laughs") is refused. A DOCTYPE that only names
//!   an external DTD (`<!DOCTYPE SCAN SYSTEM "…/scan-1.dtd">`, which every
//!   Qualys export carries) is accepted: nothing in patchflow ever fetches or
//!   reads a DTD, so it declares nothing. (The Nessus parser refuses every
//!   DOCTYPE because Nessus never writes one.)
//! - Only the five predefined XML entities and character references are
//!   resolved; any other entity reference is refused.
//! - One root element; text or elements after it are refused, comments and
//!   processing instructions are ignored.
//! - Memory: the path of open element names, the attributes of the current
//!   element and the captured text, never the document.

use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

use crate::nessus::MAX_FIELD_BYTES;
use crate::scanner::ParseError;

/// What [`XmlPull::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    /// An element opened: [`XmlPull::path`] ends with its name and
    /// [`XmlPull::attr`] reads its attributes.
    Start,
    /// An element closed: [`XmlPull::path`] still ends with its name and,
    /// when it was captured, [`XmlPull::take_text`] gives its text.
    End,
    /// The document ended cleanly.
    Eof,
}

/// One text capture: the depth of the element it belongs to, whether text of
/// descendants counts, and the text so far.
#[derive(Debug)]
struct Capture {
    depth: usize,
    deep: bool,
    text: String,
}

/// Block-level elements of Nexpose's rich text; a deep capture puts a line
/// break between them.
const BLOCKS: [&str; 6] = [
    "Paragraph",
    "ListItem",
    "UnorderedList",
    "OrderedList",
    "ContainerBlockElement",
    "P",
];

/// The pull reader. See the module documentation.
pub(crate) struct XmlPull<R> {
    xml: Reader<R>,
    buf: Vec<u8>,
    path: Vec<String>,
    attrs: Vec<(String, String)>,
    captures: Vec<Capture>,
    finished_text: String,
    pop_pending: bool,
    /// An empty-element tag was reported as a start; its end comes next.
    end_pending: bool,
    root_seen: bool,
    root_closed: bool,
    /// What the document is expected to be, for "not a …" messages.
    format: &'static str,
    /// Byte offset of the current event.
    position: u64,
}

impl<R: BufRead> XmlPull<R> {
    /// A reader over `input`; `format` names the expected document
    /// (`Qualys ASSET_DATA_REPORT`) in rejection messages.
    pub(crate) fn new(input: R, format: &'static str) -> XmlPull<R> {
        let mut xml = Reader::from_reader(input);
        let config = xml.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
        XmlPull {
            xml,
            buf: Vec::new(),
            path: Vec::new(),
            attrs: Vec::new(),
            captures: Vec::new(),
            finished_text: String::new(),
            pop_pending: false,
            end_pending: false,
            root_seen: false,
            root_closed: false,
            format,
            position: 0,
        }
    }

    /// Names of the open elements, root first; on [`Node::End`] it still
    /// ends with the element that closed.
    pub(crate) fn path(&self) -> &[String] {
        &self.path
    }

    /// Name of the current element (the one that started or ended).
    pub(crate) fn name(&self) -> &str {
        self.path.last().map_or("", String::as_str)
    }

    /// Number of open elements (1 = inside the root).
    pub(crate) fn depth(&self) -> usize {
        self.path.len()
    }

    /// Attribute `key` of the element that just started (entity references
    /// resolved, whitespace normalized), untrimmed.
    pub(crate) fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Byte offset of the current event.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// Starts collecting the text of the element that just started: only its
    /// own text (`deep == false`, for mixed content such as OpenVAS
    /// `<host>10.0.0.1<hostname>…</hostname></host>`), or its descendants'
    /// too (`deep == true`, line breaks between block elements).
    pub(crate) fn capture(&mut self, deep: bool) {
        self.captures.push(Capture {
            depth: self.path.len(),
            deep,
            text: String::new(),
        });
    }

    /// On [`Node::End`] of a captured element: its text, untrimmed. Empty
    /// otherwise.
    pub(crate) fn take_text(&mut self) -> String {
        std::mem::take(&mut self.finished_text)
    }

    /// The next start, end or end of document.
    ///
    /// # Errors
    /// Any [`ParseError`] of the module rules; the reader should not be used
    /// after an error.
    pub(crate) fn next(&mut self) -> Result<Node, ParseError> {
        if self.pop_pending {
            self.pop_pending = false;
            self.path.pop();
            if self.path.is_empty() && self.root_seen {
                self.root_closed = true;
            }
        }
        self.finished_text.clear();
        if self.end_pending {
            self.end_pending = false;
            self.close();
            return Ok(Node::End);
        }
        loop {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            self.position = self.xml.buffer_position();
            let event = match self.xml.read_event_into(&mut buf) {
                Ok(e) => e,
                Err(e) => return Err(self.xml_error(e)),
            };
            let empty = matches!(event, Event::Empty(_));
            let node = match event {
                Event::Start(e) | Event::Empty(e) => {
                    let name = {
                        let qname = e.name();
                        let n: &str = qname.as_ref();
                        n.to_owned()
                    };
                    if self.root_closed {
                        return Err(ParseError::Xml {
                            position: self.position,
                            message: format!("element <{name}> after the root element"),
                        });
                    }
                    self.attrs.clear();
                    for attr in e.attributes() {
                        let attr = attr.map_err(|err| ParseError::Xml {
                            position: self.position,
                            message: err.to_string(),
                        })?;
                        let value = attr
                            .normalized_value(XmlVersion::Implicit1_0)
                            .map_err(|err| self.attr_error(err))?;
                        let key = {
                            let k: &str = attr.key.as_ref();
                            k.to_owned()
                        };
                        self.attrs.push((key, value.into_owned()));
                    }
                    if BLOCKS.contains(&name.as_str()) {
                        self.break_deep_captures();
                    }
                    self.root_seen = true;
                    self.path.push(name);
                    // Not produced with `expand_empty_elements`; handled the
                    // same way all the same.
                    self.end_pending = empty;
                    Some(Node::Start)
                }
                Event::End(_) => {
                    self.close();
                    Some(Node::End)
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    self.text(&content)?;
                    None
                }
                Event::CData(c) => {
                    let content = c.xml10_content();
                    self.text(&content)?;
                    None
                }
                Event::GeneralRef(r) => {
                    let resolved = if r.is_char_ref() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => c.to_string(),
                            _ => {
                                return Err(ParseError::Xml {
                                    position: self.position,
                                    message: format!("invalid character reference &{};", &*r),
                                });
                            }
                        }
                    } else {
                        match quick_xml::escape::resolve_xml_entity(&r) {
                            Some(s) => s.to_owned(),
                            None => {
                                return Err(ParseError::UndeclaredEntity {
                                    name: r.to_string(),
                                    position: self.position,
                                });
                            }
                        }
                    };
                    self.text(&resolved)?;
                    None
                }
                Event::Decl(d) => {
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(|e| ParseError::Xml {
                            position: self.position,
                            message: e.to_string(),
                        })?;
                        let norm = enc.trim().to_ascii_lowercase();
                        if !matches!(norm.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
                            return Err(ParseError::UnsupportedEncoding {
                                encoding: enc.into_owned(),
                            });
                        }
                    }
                    None
                }
                Event::DocType(d) => {
                    if d.xml10_content().contains('[') {
                        return Err(ParseError::Doctype {
                            position: self.position,
                        });
                    }
                    None
                }
                Event::Comment(_) | Event::PI(_) => None,
                Event::Eof => {
                    if !self.root_seen {
                        return Err(ParseError::Empty {
                            detail: format!(
                                "no XML element in {} bytes",
                                self.xml.buffer_position()
                            ),
                        });
                    }
                    if !self.path.is_empty() {
                        return Err(ParseError::Truncated {
                            position: self.xml.buffer_position(),
                            context: self.context(),
                        });
                    }
                    Some(Node::Eof)
                }
            };
            self.buf = buf;
            if let Some(node) = node {
                return Ok(node);
            }
        }
    }

    fn attr_error(&self, err: quick_xml::Error) -> ParseError {
        use quick_xml::escape::EscapeError;
        match err {
            // Only the predefined entities resolve; anything else is refused
            // like an undeclared entity in text.
            quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
                ParseError::UndeclaredEntity {
                    name,
                    position: self.position,
                }
            }
            other => ParseError::Xml {
                position: self.position,
                message: other.to_string(),
            },
        }
    }

    /// The current element ends: finish its capture, pop it on the next call.
    fn close(&mut self) {
        let depth = self.path.len();
        if self.captures.last().is_some_and(|c| c.depth == depth)
            && let Some(c) = self.captures.pop()
        {
            self.finished_text = c.text;
        }
        if BLOCKS.contains(&self.name()) {
            self.break_deep_captures();
        }
        self.pop_pending = true;
    }

    fn break_deep_captures(&mut self) {
        for c in self.captures.iter_mut().filter(|c| c.deep) {
            if !c.text.is_empty() && !c.text.ends_with('\n') {
                push_capped(&mut c.text, "\n");
            }
        }
    }

    fn text(&mut self, content: &str) -> Result<(), ParseError> {
        if self.path.is_empty() {
            if content.trim().is_empty() {
                return Ok(());
            }
            return Err(if self.root_closed {
                ParseError::Xml {
                    position: self.position,
                    message: "text after the root element".to_owned(),
                }
            } else {
                ParseError::NotFormat {
                    format: self.format,
                    found: "text outside any XML element (not an XML document)".to_owned(),
                }
            });
        }
        let depth = self.path.len();
        for c in &mut self.captures {
            if c.depth == depth || (c.deep && c.depth < depth) {
                push_capped(&mut c.text, content);
            }
        }
        Ok(())
    }

    fn xml_error(&self, e: quick_xml::Error) -> ParseError {
        use quick_xml::errors::SyntaxError;
        let position = self.xml.error_position().max(self.position);
        match e {
            quick_xml::Error::Encoding(_) => ParseError::InvalidUtf8 { position },
            quick_xml::Error::Io(io) => ParseError::Io {
                position: self.xml.buffer_position(),
                message: io.to_string(),
            },
            quick_xml::Error::Syntax(SyntaxError::InvalidBangMarkup) => ParseError::Xml {
                position,
                message: SyntaxError::InvalidBangMarkup.to_string(),
            },
            quick_xml::Error::Syntax(s) => ParseError::Truncated {
                position,
                context: format!("{} ({s})", self.context()),
            },
            other => ParseError::Xml {
                position,
                message: other.to_string(),
            },
        }
    }

    fn context(&self) -> String {
        match self.path.last() {
            Some(name) => format!("inside <{name}> (depth {})", self.path.len()),
            None if self.root_closed => "after the root element".to_owned(),
            None => "before the root element".to_owned(),
        }
    }
}

/// Appends `s` to `text` up to [`MAX_FIELD_BYTES`], cutting at a character
/// boundary.
pub(crate) fn push_capped(text: &mut String, s: &str) {
    let room = MAX_FIELD_BYTES.saturating_sub(text.len());
    if s.len() <= room {
        text.push_str(s);
        return;
    }
    let mut cut = room;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    text.push_str(s.get(..cut).unwrap_or_default());
}

/// Rich text flattened to lines: each line trimmed with inner runs of
/// whitespace collapsed, empty lines dropped.
pub(crate) fn flatten(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(xml: &str) -> Result<Vec<String>, ParseError> {
        let mut p = XmlPull::new(xml.as_bytes(), "test document");
        let mut out = Vec::new();
        loop {
            match p.next()? {
                Node::Start => {
                    if p.name() == "host" {
                        p.capture(false);
                    }
                    if p.name() == "deep" {
                        p.capture(true);
                    }
                }
                Node::End => {
                    let t = p.take_text();
                    if !t.is_empty() {
                        out.push(format!("{}={}", p.name(), flatten(&t)));
                    }
                }
                Node::Eof => return Ok(out),
            }
        }
    }

    #[test]
    fn mixed_content_and_deep_text() {
        let got = walk(
            "<r><host>10.0.0.1\n  <hostname>web</hostname>\n</host>\
             <deep><Paragraph>a  b</Paragraph><Paragraph>c</Paragraph></deep></r>",
        )
        .unwrap();
        assert_eq!(got, ["host=10.0.0.1", "deep=a b\nc"]);
    }

    #[test]
    fn external_doctype_is_accepted_internal_subset_refused() {
        assert!(walk("<!DOCTYPE SCAN SYSTEM \"https://x/scan-1.dtd\"><SCAN/>").is_ok());
        let err = walk("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>").unwrap_err();
        assert!(err.to_string().starts_with("refused DOCTYPE"), "{err}");
        let err = walk("<x>&xxe;</x>").unwrap_err();
        assert!(err.to_string().starts_with("undeclared entity"), "{err}");
        let err = walk("<x a=\"&xxe;\"/>").unwrap_err();
        assert!(err.to_string().starts_with("undeclared entity"), "{err}");
    }

    #[test]
    fn structural_errors_have_reasons() {
        let table = [
            ("", "empty report"),
            ("<a><b></a>", "not well-formed"),
            ("<a><b>", "truncated report"),
            ("<a/><b/>", "after the root element"),
            ("hello", "not a test document"),
            (
                "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
                "unsupported encoding",
            ),
        ];
        for (xml, want) in table {
            let err = walk(xml).unwrap_err().to_string();
            assert!(err.contains(want), "{xml}: {err}");
        }
        let mut bad = b"<a>".to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        bad.extend_from_slice(b"</a>");
        let mut p = XmlPull::new(&bad[..], "x");
        let err = loop {
            match p.next() {
                Ok(Node::Eof) => panic!("accepted"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(err.to_string().starts_with("invalid UTF-8"), "{err}");
    }
}
