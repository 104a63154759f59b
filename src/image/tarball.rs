//! A `docker save` tarball from a tenant, made safe for `docker load`.
//!
//! `docker load` applies every tag the tarball names (`RepoTags` in
//! `manifest.json`, the legacy `repositories` file), so a tenant's upload
//! could take over `novadock-glance:<another image>` or `busybox:latest`.
//! The filter lets through only the entries `docker save` writes (legacy
//! and OCI layouts), drops `repositories`, rewrites `manifest.json` without
//! tags and refuses a tarball that holds anything but exactly one image. It
//! works on the stream, so a large image is never held in memory: only
//! `manifest.json` (at most [`MAX_MANIFEST`] bytes) is buffered.

const BLOCK: usize = 512;
/// A manifest of one image with a thousand layers is about 100 KiB.
pub const MAX_MANIFEST: u64 = 1 << 20;
/// PAX extended headers are a few records; more is not a `docker save`.
const MAX_PAX: u64 = 64 << 10;

#[derive(Debug)]
enum State {
    /// Collecting the next 512-byte header in `pending`.
    Header,
    /// Copying (or, with `keep` false, dropping) `left` bytes of an entry's
    /// data and padding.
    Data { left: u64, keep: bool },
    /// Collecting a PAX header's records: `size` bytes, then padding.
    Pax { size: u64, header: Vec<u8> },
    /// Collecting manifest.json: `size` bytes, then padding.
    Manifest { size: u64, header: Vec<u8> },
    /// After the end-of-archive blocks: `docker load` reads no further.
    End,
}

/// The filter; feed it chunks with [`TarFilter::push`], then call
/// [`TarFilter::finish`].
#[derive(Debug)]
pub struct TarFilter {
    state: State,
    pending: Vec<u8>,
    zero_blocks: u8,
    /// A PAX `size` record applies to the next entry.
    pax_size: Option<u64>,
    manifest_seen: bool,
}

impl Default for TarFilter {
    fn default() -> Self {
        Self::new()
    }
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK as u64) * BLOCK as u64
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a `docker save` tarball holds, by name.
#[derive(Debug, PartialEq)]
enum Entry {
    Manifest,
    Repositories,
    Dir,
    File,
    /// `<id>/layer.tar` may link to the same layer elsewhere in the archive.
    LayerLink,
    Unknown,
}

fn classify(name: &str) -> Entry {
    match name {
        "manifest.json" => return Entry::Manifest,
        "repositories" => return Entry::Repositories,
        // Directories, with or without the trailing slash tar writers differ on.
        "blobs/" | "blobs/sha256/" | "blobs" | "blobs/sha256" => return Entry::Dir,
        "index.json" | "oci-layout" => return Entry::File,
        _ => {}
    }
    if is_hex64(name.strip_suffix('/').unwrap_or(name)) {
        return Entry::Dir;
    }
    if let Some(id) = name.strip_suffix(".json")
        && is_hex64(id)
    {
        return Entry::File;
    }
    if let Some(blob) = name.strip_prefix("blobs/sha256/")
        && is_hex64(blob)
    {
        return Entry::File;
    }
    if let Some((id, file)) = name.split_once('/')
        && is_hex64(id)
    {
        return match file {
            "VERSION" | "json" => Entry::File,
            "layer.tar" => Entry::LayerLink,
            _ => Entry::Unknown,
        };
    }
    Entry::Unknown
}

/// A symlink target that stays on another layer of the archive.
fn is_layer_target(target: &str) -> bool {
    if let Some(rest) = target.strip_prefix("../blobs/sha256/") {
        return is_hex64(rest);
    }
    target
        .strip_prefix("../")
        .and_then(|t| t.strip_suffix("/layer.tar"))
        .is_some_and(is_hex64)
}

fn field(header: &[u8], start: usize, len: usize) -> Result<String, String> {
    let raw = &header[start..start + len];
    let end = raw.iter().position(|b| *b == 0).unwrap_or(len);
    String::from_utf8(raw[..end].to_vec()).map_err(|_| "an entry name is not UTF-8".to_string())
}

fn octal(header: &[u8], start: usize, len: usize) -> Result<u64, String> {
    let raw = &header[start..start + len];
    if raw[0] & 0x80 != 0 {
        // GNU base-256: big-endian after the marker bit.
        let mut v: u64 = u64::from(raw[0] & 0x7f);
        for b in &raw[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or("an entry size overflows")?;
        }
        return Ok(v);
    }
    let text: String = raw
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| format!("{text:?} is not an octal number"))
}

fn write_octal(header: &mut [u8], start: usize, len: usize, value: u64) {
    let text = format!("{value:0width$o}", width = len - 1);
    header[start..start + len - 1].copy_from_slice(text.as_bytes());
    header[start + len - 1] = 0;
}

fn set_checksum(header: &mut [u8]) {
    header[148..156].fill(b' ');
    let sum: u64 = header.iter().map(|b| u64::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(text.as_bytes());
}

/// The keys of a PAX header's records ("LEN key=value\n" each).
fn pax_records(data: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or("a malformed PAX record")?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|t| t.parse().ok())
            .filter(|l| *l > space && *l <= rest.len())
            .ok_or("a malformed PAX record")?;
        let record =
            std::str::from_utf8(&rest[space + 1..len]).map_err(|_| "a PAX record is not UTF-8")?;
        let record = record.strip_suffix('\n').ok_or("a malformed PAX record")?;
        let (k, v) = record.split_once('=').ok_or("a malformed PAX record")?;
        out.push((k.to_string(), v.to_string()));
        rest = &rest[len..];
    }
    Ok(out)
}

/// manifest.json with exactly one image and no tags.
fn untagged_manifest(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut manifest: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(data).map_err(|e| format!("manifest.json is not valid: {e}"))?;
    if manifest.len() != 1 {
        return Err(format!(
            "the tarball holds {} images; novadock takes exactly one image per Glance image",
            manifest.len()
        ));
    }
    for image in &mut manifest {
        image.insert("RepoTags".into(), serde_json::Value::Null);
    }
    serde_json::to_vec(&manifest).map_err(|e| format!("writing manifest.json: {e}"))
}

impl TarFilter {
    pub fn new() -> TarFilter {
        TarFilter {
            state: State::Header,
            pending: Vec::with_capacity(BLOCK),
            zero_blocks: 0,
            pax_size: None,
            manifest_seen: false,
        }
    }

    /// The bytes to hand to `docker load` for this chunk of the upload.
    pub fn push(&mut self, mut chunk: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(chunk.len());
        while !chunk.is_empty() {
            match &mut self.state {
                State::End => break,
                State::Data { left, keep } => {
                    let n = chunk
                        .len()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    if *keep {
                        out.extend_from_slice(&chunk[..n]);
                    }
                    *left -= n as u64;
                    chunk = &chunk[n..];
                    if *left == 0 {
                        self.state = State::Header;
                    }
                }
                State::Header | State::Pax { .. } | State::Manifest { .. } => {
                    let want = match &self.state {
                        State::Pax { size, .. } | State::Manifest { size, .. } => {
                            padded(*size) as usize
                        }
                        _ => BLOCK,
                    };
                    let n = chunk.len().min(want - self.pending.len());
                    self.pending.extend_from_slice(&chunk[..n]);
                    chunk = &chunk[n..];
                    if self.pending.len() == want {
                        let block = std::mem::take(&mut self.pending);
                        self.complete(block, &mut out)?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Called at the end of the upload: the tarball must have been whole.
    pub fn finish(&self) -> Result<(), String> {
        let whole = matches!(self.state, State::End)
            || (matches!(self.state, State::Header) && self.pending.is_empty());
        if !whole {
            return Err("the tarball is truncated".into());
        }
        if !self.manifest_seen {
            return Err(
                "the tarball has no manifest.json (a docker save tarball is expected)".into(),
            );
        }
        Ok(())
    }

    /// A full header, PAX body or manifest has arrived.
    fn complete(&mut self, block: Vec<u8>, out: &mut Vec<u8>) -> Result<(), String> {
        match std::mem::replace(&mut self.state, State::Header) {
            State::Header => self.header(block, out),
            State::Pax { size, header } => {
                let records = pax_records(&block[..size as usize])?;
                for (k, v) in records {
                    match k.as_str() {
                        "path" | "linkpath" => {
                            return Err(format!(
                                "the tarball renames an entry with a PAX {k} record ({v:?}); \
                                 docker save writes none"
                            ));
                        }
                        "size" => {
                            self.pax_size =
                                Some(v.parse().map_err(|_| "a PAX size is not a number")?);
                        }
                        _ => {}
                    }
                }
                out.extend_from_slice(&header);
                out.extend_from_slice(&block);
                Ok(())
            }
            State::Manifest { size, mut header } => {
                let manifest = untagged_manifest(&block[..size as usize])?;
                write_octal(&mut header, 124, 12, manifest.len() as u64);
                set_checksum(&mut header);
                out.extend_from_slice(&header);
                out.extend_from_slice(&manifest);
                out.resize(
                    out.len() + (padded(manifest.len() as u64) as usize - manifest.len()),
                    0,
                );
                self.manifest_seen = true;
                Ok(())
            }
            State::Data { .. } | State::End => Ok(()),
        }
    }

    fn header(&mut self, header: Vec<u8>, out: &mut Vec<u8>) -> Result<(), String> {
        if header.iter().all(|b| *b == 0) {
            out.extend_from_slice(&header);
            self.zero_blocks += 1;
            if self.zero_blocks == 2 {
                self.state = State::End;
            }
            return Ok(());
        }
        if self.zero_blocks > 0 {
            return Err("the tarball has an entry after an empty block".into());
        }
        let pax_size = self.pax_size.take();
        let size = match pax_size {
            Some(s) => s,
            None => octal(&header, 124, 12)?,
        };
        let kind = header[156];
        let mut name = field(&header, 0, 100)?;
        // POSIX ustar (what Go writes) has a name prefix; GNU tar uses the
        // same bytes for other fields.
        if &header[257..263] == b"ustar\0" {
            let prefix = field(&header, 345, 155)?;
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let entry = classify(&name);
        let refuse = |why: &str| Err(format!("the tarball's entry {name:?} {why}"));
        match (kind, &entry) {
            (b'x' | b'g', _) => {
                if size > MAX_PAX {
                    return refuse("is a PAX header too large for a docker save");
                }
                self.state = State::Pax { size, header };
                return Ok(());
            }
            (_, Entry::Unknown) => {
                return refuse("is not part of a docker save tarball");
            }
            (b'0' | 0, Entry::Manifest) => {
                if self.manifest_seen {
                    return refuse("appears twice");
                }
                if pax_size.is_some() || size > MAX_MANIFEST {
                    return refuse("is too large");
                }
                self.state = State::Manifest { size, header };
                return Ok(());
            }
            (b'0' | 0, Entry::Repositories) => {
                // Only tags are in it: dropped, data and all.
                self.state = State::Data {
                    left: padded(size),
                    keep: false,
                };
                return Ok(());
            }
            (b'5', Entry::Dir) => {}
            (b'0' | 0, Entry::File | Entry::LayerLink) => {}
            (b'2', Entry::LayerLink) => {
                let target = field(&header, 157, 100)?;
                if !is_layer_target(&target) {
                    return refuse(&format!(
                        "links to {target:?}, outside the archive's layers"
                    ));
                }
            }
            _ => {
                return refuse(&format!(
                    "has a type ({:?}) docker save does not write",
                    kind as char
                ));
            }
        }
        out.extend_from_slice(&header);
        if size > 0 {
            self.state = State::Data {
                left: padded(size),
                keep: true,
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, kind: u8, size: u64, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        write_octal(&mut h, 100, 8, 0o644);
        write_octal(&mut h, 124, 12, size);
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        set_checksum(&mut h);
        h
    }

    fn entry(name: &str, data: &[u8]) -> Vec<u8> {
        let mut v = header(name, b'0', data.len() as u64, "");
        v.extend_from_slice(data);
        v.resize(
            v.len() + (padded(data.len() as u64) as usize - data.len()),
            0,
        );
        v
    }

    fn id(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn tarball(manifest: &str) -> Vec<u8> {
        let mut t = header(&format!("{}/", id('a')), b'5', 0, "");
        t.extend(entry(&format!("{}/layer.tar", id('a')), b"layer"));
        t.extend(entry(&format!("{}.json", id('c')), b"{}"));
        t.extend(entry("manifest.json", manifest.as_bytes()));
        t.extend(entry("repositories", br#"{"busybox":{"latest":"x"}}"#));
        t.extend(vec![0u8; 2 * BLOCK]);
        t
    }

    fn filter_all(data: &[u8], chunk: usize) -> Result<Vec<u8>, String> {
        let mut f = TarFilter::new();
        let mut out = Vec::new();
        for c in data.chunks(chunk) {
            out.extend(f.push(c)?);
        }
        f.finish()?;
        Ok(out)
    }

    /// The entries of a (filtered) tarball: name and data.
    fn entries(data: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + BLOCK <= data.len() && data[at..at + BLOCK].iter().any(|b| *b != 0) {
            let h = &data[at..at + BLOCK];
            let mut check = h.to_vec();
            set_checksum(&mut check);
            assert_eq!(&check[148..156], &h[148..156], "header checksum");
            let size = octal(h, 124, 12).expect("size") as usize;
            let name = field(h, 0, 100).expect("name");
            out.push((name, data[at + BLOCK..at + BLOCK + size].to_vec()));
            at += BLOCK + padded(size as u64) as usize;
        }
        out
    }

    fn manifest_with(tags: &str) -> String {
        format!(
            r#"[{{"Config":"{c}.json","RepoTags":{tags},"Layers":["{a}/layer.tar"]}}]"#,
            c = id('c'),
            a = id('a')
        )
    }

    #[test]
    fn tags_never_reach_docker_load() {
        let t = tarball(&manifest_with(
            r#"["novadock-glance:victim","busybox:latest"]"#,
        ));
        for chunk in [1, 7, 512, 100_000] {
            let out = filter_all(&t, chunk).expect("a docker save tarball passes");
            let e = entries(&out);
            let names: Vec<&str> = e.iter().map(|(n, _)| n.as_str()).collect();
            assert!(!names.contains(&"repositories"), "{names:?}");
            let (_, m) = e
                .iter()
                .find(|(n, _)| n == "manifest.json")
                .expect("manifest");
            let m: serde_json::Value = serde_json::from_slice(m).expect("json");
            assert_eq!(m[0]["RepoTags"], serde_json::Value::Null);
            assert_eq!(m[0]["Layers"][0], format!("{}/layer.tar", id('a')));
            assert!(out.ends_with(&[0u8; 2 * BLOCK]));
        }
    }

    #[test]
    fn more_than_one_image_is_refused() {
        let two = format!(
            r#"[{{"Config":"{c}.json","RepoTags":null,"Layers":[]}},{{"Config":"{c}.json","RepoTags":null,"Layers":[]}}]"#,
            c = id('c')
        );
        let e = filter_all(&tarball(&two), 4096).expect_err("two images");
        assert!(e.contains("holds 2 images"), "{e}");
        assert!(filter_all(&tarball("[]"), 4096).is_err());
    }

    #[test]
    fn entries_docker_save_never_writes_are_refused() {
        let base = tarball(&manifest_with("null"));
        let mut evil = entry("etc/passwd", b"x");
        evil.extend_from_slice(&base);
        assert!(filter_all(&evil, 512).is_err());
        // manifest.json renamed in through PAX, a symlink, twice, or a link out.
        let mut pax_data = b"30 path=manifest.json\n".to_vec();
        pax_data.resize(30, b'x');
        pax_data[29] = b'\n';
        let mut pax = header("PaxHeader/x", b'x', 30, "");
        pax.extend_from_slice(&pax_data);
        pax.resize(BLOCK * 2, 0);
        pax.extend_from_slice(&base);
        assert!(filter_all(&pax, 512).is_err(), "PAX path");
        let mut link = header("manifest.json", b'2', 0, "x.json");
        link.extend_from_slice(&base);
        assert!(filter_all(&link, 512).is_err(), "symlinked manifest");
        let mut out_link = header(&format!("{}/layer.tar", id('b')), b'2', 0, "/etc/shadow");
        out_link.extend_from_slice(&base);
        assert!(filter_all(&out_link, 512).is_err(), "link outside");
        let mut twice = entry("manifest.json", manifest_with("null").as_bytes());
        twice.extend_from_slice(&base);
        assert!(filter_all(&twice, 512).is_err(), "two manifests");
        let mut hard = header(&format!("{}/json", id('b')), b'1', 0, "manifest.json");
        hard.extend_from_slice(&base);
        assert!(filter_all(&hard, 512).is_err(), "hard link");
    }

    #[test]
    fn a_layer_may_link_to_another_layer() {
        let mut t = header(
            &format!("{}/layer.tar", id('b')),
            b'2',
            0,
            &format!("../{}/layer.tar", id('a')),
        );
        t.extend(tarball(&manifest_with("null")));
        filter_all(&t, 512).expect("docker save links shared layers");
    }

    #[test]
    fn truncated_or_manifestless_tarballs_are_refused() {
        let t = tarball(&manifest_with("null"));
        let e = filter_all(&t[..t.len() - 2 * BLOCK - 3], 512).expect_err("truncated");
        assert!(e.contains("truncated"), "{e}");
        let mut no_manifest = entry(&format!("{}.json", id('c')), b"{}");
        no_manifest.extend(vec![0u8; 2 * BLOCK]);
        let e = filter_all(&no_manifest, 512).expect_err("no manifest");
        assert!(e.contains("no manifest.json"), "{e}");
    }
}
