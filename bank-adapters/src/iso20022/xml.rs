//! A small, hostile-input-safe XML layer over `quick-xml` for ISO 20022 messages: a
//! streaming writer, and a reader that builds a bounded element tree.
//!
//! The reader refuses what no ISO 20022 message needs and attackers use: a DOCTYPE (so no
//! entity definitions, no "billion laughs", no external entities), references to anything
//! but the five predefined entities and character references, processing instructions,
//! input over [`MAX_MESSAGE_BYTES`], nesting over [`MAX_DEPTH`], more than [`MAX_ELEMENTS`]
//! elements, and any element outside the message's namespace.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::MessageError;

/// Largest message accepted (1 MiB; a single-transaction message is a few KiB).
pub(crate) const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Deepest element nesting accepted (ISO 20022 messages nest about 10 deep).
pub(crate) const MAX_DEPTH: usize = 32;
/// Most elements in one message.
pub(crate) const MAX_ELEMENTS: usize = 20_000;

/// One parsed element: local name, attributes (unqualified), text content and children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    /// The first child with this local name.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name, in document order.
    pub(crate) fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at `path` below this one, or a "missing element" error naming the path.
    pub(crate) fn req(&self, path: &[&str]) -> Result<&Element, MessageError> {
        let mut at = self;
        for (i, step) in path.iter().enumerate() {
            at = at
                .child(step)
                .ok_or_else(|| MessageError::Missing(format!("{}/{}", self.name, path[..=i].join("/"))))?;
        }
        Ok(at)
    }

    /// The element at `path`, if every step is present.
    pub(crate) fn opt(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |at, step| at.child(step))
    }

    /// The trimmed, non-empty text at `path`.
    pub(crate) fn req_text(&self, path: &[&str]) -> Result<&str, MessageError> {
        let el = self.req(path)?;
        let text = el.text.trim();
        if text.is_empty() {
            return Err(MessageError::Missing(format!("{}/{} (empty)", self.name, path.join("/"))));
        }
        Ok(text)
    }

    pub(crate) fn opt_text(&self, path: &[&str]) -> Option<&str> {
        self.opt(path).map(|e| e.text.trim()).filter(|t| !t.is_empty())
    }

    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Check that the children this code knows appear in the schema's sequence order
    /// (`order` lists the sequence); children not listed are left to the schema.
    pub(crate) fn check_order(&self, order: &[&str]) -> Result<(), MessageError> {
        let mut last = 0;
        for child in &self.children {
            if let Some(i) = order.iter().position(|n| *n == child.name) {
                if i < last {
                    return Err(MessageError::Order { parent: self.name.clone(), element: child.name.clone() });
                }
                last = i;
            }
        }
        Ok(())
    }
}

/// Parse a message whose root must be `Document` in namespace `namespace`.
pub(crate) fn parse_document(xml: &[u8], namespace: &str) -> Result<Element, MessageError> {
    if xml.len() > MAX_MESSAGE_BYTES {
        return Err(MessageError::Hostile(format!("message of {} bytes exceeds {MAX_MESSAGE_BYTES}", xml.len())));
    }
    let mut reader = NsReader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut buf = Vec::new();
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader.read_resolved_event_into(&mut buf).map_err(|e| MessageError::Xml(e.to_string()))?;
        let in_ns = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == namespace.as_bytes());
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(MessageError::Hostile("too many or too deeply nested elements".into()));
                }
                if root.is_some() {
                    return Err(MessageError::Xml("content after the root element".into()));
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if !in_ns {
                    return Err(MessageError::Namespace { element: name, expected: namespace.to_string() });
                }
                let mut el = Element { name, ..Element::default() };
                for attr in e.attributes() {
                    let attr = attr.map_err(|err| MessageError::Xml(err.to_string()))?;
                    let key = attr.key.as_ref();
                    if key == b"xmlns" || key.starts_with(b"xmlns:") {
                        continue;
                    }
                    let value = attr.unescape_value().map_err(|err| MessageError::Xml(err.to_string()))?;
                    el.attrs.push((String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned(), value.into()));
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else {
                    attach(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| MessageError::Xml("unbalanced end tag".into()))?;
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => {
                let text = t.xml_content().map_err(|e| MessageError::Xml(e.to_string()))?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(c) => {
                let text = c.decode().map_err(|e| MessageError::Xml(e.to_string()))?;
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref().map_err(|e| MessageError::Xml(e.to_string()))? {
                        Some(c) => Cow::Owned(c.to_string()),
                        None => return Err(MessageError::Xml("bad character reference".into())),
                    }
                } else {
                    let name = r.decode().map_err(|e| MessageError::Xml(e.to_string()))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => Cow::Borrowed(s),
                        None => return Err(MessageError::Hostile(format!("undeclared entity reference &{name};"))),
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(MessageError::Hostile("DOCTYPE declarations are refused".into())),
            Event::PI(_) => return Err(MessageError::Hostile("processing instructions are refused".into())),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(MessageError::Xml("unexpected end of message".into()));
    }
    let root = root.ok_or_else(|| MessageError::Xml("empty message".into()))?;
    if root.name != "Document" {
        return Err(MessageError::Missing("Document (root element)".into()));
    }
    Ok(root)
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), MessageError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(MessageError::Xml("text outside the root element".into())),
    }
}

/// A streaming writer for one message: declaration, `Document` root with the namespace,
/// then elements in the order the caller writes them (the schema's sequence order).
pub(crate) struct XmlOut {
    writer: Writer<Vec<u8>>,
    open: Vec<&'static str>,
}

impl XmlOut {
    pub(crate) fn new(namespace: &str) -> Result<Self, MessageError> {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).map_err(write_err)?;
        let mut out = XmlOut { writer, open: Vec::new() };
        out.open_with("Document", &[("xmlns", namespace)])?;
        Ok(out)
    }

    pub(crate) fn open(&mut self, name: &'static str) -> Result<&mut Self, MessageError> {
        self.open_with(name, &[])
    }

    fn open_with(&mut self, name: &'static str, attrs: &[(&str, &str)]) -> Result<&mut Self, MessageError> {
        let start = BytesStart::new(name).with_attributes(attrs.iter().copied());
        self.writer.write_event(Event::Start(start)).map_err(write_err)?;
        self.open.push(name);
        Ok(self)
    }

    pub(crate) fn close(&mut self) -> Result<&mut Self, MessageError> {
        let name = self.open.pop().ok_or_else(|| MessageError::Write("close without open".into()))?;
        self.writer.write_event(Event::End(BytesEnd::new(name))).map_err(write_err)?;
        Ok(self)
    }

    /// `<name>text</name>` (text escaped).
    pub(crate) fn leaf(&mut self, name: &'static str, text: &str) -> Result<&mut Self, MessageError> {
        self.leaf_with(name, &[], text)
    }

    pub(crate) fn leaf_with(
        &mut self,
        name: &'static str,
        attrs: &[(&str, &str)],
        text: &str,
    ) -> Result<&mut Self, MessageError> {
        let start = BytesStart::new(name).with_attributes(attrs.iter().copied());
        self.writer.write_event(Event::Start(start)).map_err(write_err)?;
        self.writer.write_event(Event::Text(BytesText::new(text))).map_err(write_err)?;
        self.writer.write_event(Event::End(BytesEnd::new(name))).map_err(write_err)?;
        Ok(self)
    }

    /// Close everything still open (down to and including `Document`) and return the text.
    pub(crate) fn finish(mut self) -> Result<String, MessageError> {
        while !self.open.is_empty() {
            self.close()?;
        }
        String::from_utf8(self.writer.into_inner()).map_err(|e| MessageError::Write(e.to_string()))
    }
}

fn write_err(e: std::io::Error) -> MessageError {
    MessageError::Write(e.to_string())
}
