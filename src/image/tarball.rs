//! A `docker save` tarball from a tenant, made safe for `docker load`.
//!
//! `docker load` applies every tag the tarball names (`RepoTags` in
//! `manifest.json`, the legacy `repositories` file), so a tenant's upload
//! could take over `novadock-glance:<another image>` or `busybox:latest`.
//! The filter lets through only the entries `docker save` writes (legacy
//! and OCI layouts), drops `repositories` and `index.json`, rewrites
//! `manifest.json` without tags and refuses a tarball that holds anything
//! but exactly one image. Docker never sees a header of the tenant's: every
//! entry let through gets a fresh ustar header the filter wrote from what
//! it parsed (PAX headers are read and dropped), so Docker's tar reader
//! cannot see a different archive than the filter did. It works on the
//! stream: only `manifest.json` (at most [`MAX_MANIFEST`] bytes) is
//! buffered.

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
    Pax { size: u64 },
    /// Collecting manifest.json: `size` bytes, then padding.
    Manifest { size: u64 },
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
    /// The last header was a PAX header: the next must be its entry.
    pax_pending: bool,
    manifest_seen: bool,
}

impl Default for TarFilter {
    fn default() -> Self {
        Self::new()
    }
}

/// Sizes beyond this are refused (Go's tar reader refuses them too).
const MAX_SIZE: u64 = i64::MAX as u64;

fn padded(size: u64) -> u64 {
    // Sizes are checked against MAX_SIZE first: this cannot overflow.
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
    /// Only tags are in it (`repositories`) or names for other image
    /// stores (`index.json`): dropped, data and all.
    Dropped,
    Dir,
    File,
    /// `<id>/layer.tar` may link to the same layer elsewhere in the archive.
    LayerLink,
    Unknown,
}

fn classify(name: &str) -> Entry {
    match name {
        "manifest.json" => return Entry::Manifest,
        "repositories" | "index.json" => return Entry::Dropped,
        // Directories, with or without the trailing slash tar writers differ on.
        "blobs/" | "blobs/sha256/" | "blobs" | "blobs/sha256" => return Entry::Dir,
        "oci-layout" => return Entry::File,
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

/// A numeric field as docker save writes it: octal digits padded with
/// NUL or space at the end (GNU base-256 for large sizes). Anything else,
/// such as a leading NUL Go's reader would skip, is refused.
fn octal(header: &[u8], start: usize, len: usize) -> Result<u64, String> {
    let raw = &header[start..start + len];
    if raw[0] & 0x80 != 0 {
        // GNU base-256: big-endian after the marker bit.
        let mut v: u64 = u64::from(raw[0] & 0x7f);
        for b in &raw[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or("a numeric field overflows")?;
        }
        return Ok(v);
    }
    let end = raw
        .iter()
        .rposition(|b| *b != 0 && *b != b' ')
        .map_or(0, |i| i + 1);
    let digits = &raw[..end];
    if digits.is_empty() {
        return Ok(0);
    }
    if !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return Err(format!(
            "a numeric field {:?} is not plain octal",
            String::from_utf8_lossy(raw)
        ));
    }
    let text = std::str::from_utf8(digits).map_err(|_| "a numeric field is not ASCII")?;
    u64::from_str_radix(text, 8).map_err(|_| "a numeric field overflows".to_string())
}

/// Whether the header's stored checksum is right (Go refuses it otherwise).
fn checksum_ok(header: &[u8]) -> Result<bool, String> {
    let stored = octal(header, 148, 8)?;
    let mut copy = header.to_vec();
    copy[148..156].fill(b' ');
    let unsigned: u64 = copy.iter().map(|b| u64::from(*b)).sum();
    // Old writers summed signed bytes; Go accepts either.
    let signed: i64 = copy.iter().map(|b| i64::from(*b as i8)).sum();
    Ok(stored == unsigned || i64::try_from(stored).ok() == Some(signed))
}

/// A new ustar header for an entry the filter accepted: its name, type,
/// size and link target, nothing else of the tenant's.
fn fresh_header(name: &str, kind: u8, size: u64, link: &str) -> Result<Vec<u8>, String> {
    if name.len() > 100 || link.len() > 100 {
        return Err(format!("the entry name {name:?} is too long"));
    }
    let mut h = vec![0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let mode = match kind {
        b'5' => 0o755,
        b'2' => 0o777,
        _ => 0o644,
    };
    write_octal(&mut h, 100, 8, mode);
    write_octal(&mut h, 108, 8, 0);
    write_octal(&mut h, 116, 8, 0);
    if size < 1 << 33 {
        write_octal(&mut h, 124, 12, size);
    } else {
        // GNU base-256, which Go reads, for 8 GiB and more.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    write_octal(&mut h, 136, 12, 0);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    set_checksum(&mut h);
    Ok(h)
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

/// One image of manifest.json, as docker save writes it. Field names match
/// exactly (Go's decoder would also take `repotags`), and nothing else is
/// allowed.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    _repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// manifest.json with exactly one image and no tags, written anew.
fn untagged_manifest(data: &[u8]) -> Result<Vec<u8>, String> {
    let manifest: Vec<ManifestItem> =
        serde_json::from_slice(data).map_err(|e| format!("manifest.json is not valid: {e}"))?;
    let [image] = manifest.as_slice() else {
        return Err(format!(
            "the tarball holds {} images; novadock takes exactly one image per Glance image",
            manifest.len()
        ));
    };
    let config_ok = matches!(classify(&image.config), Entry::File)
        && (image.config.ends_with(".json") || image.config.starts_with("blobs/"));
    if !config_ok {
        return Err(format!("manifest.json names the config {:?}", image.config));
    }
    for layer in &image.layers {
        let ok = match classify(layer) {
            Entry::LayerLink => true,
            Entry::File => layer.starts_with("blobs/sha256/"),
            _ => false,
        };
        if !ok {
            return Err(format!("manifest.json names the layer {layer:?}"));
        }
    }
    let clean = serde_json::json!([{
        "Config": image.config,
        "RepoTags": null,
        "Layers": image.layers,
    }]);
    serde_json::to_vec(&clean).map_err(|e| format!("writing manifest.json: {e}"))
}

impl TarFilter {
    pub fn new() -> TarFilter {
        TarFilter {
            state: State::Header,
            pending: Vec::with_capacity(BLOCK),
            zero_blocks: 0,
            pax_size: None,
            pax_pending: false,
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
            State::Pax { size } => {
                for (k, v) in pax_records(&block[..size as usize])? {
                    match k.as_str() {
                        "size" => {
                            let n: u64 = v.parse().map_err(|_| "a PAX size is not a number")?;
                            if n > MAX_SIZE {
                                return Err("a PAX size is too large".into());
                            }
                            self.pax_size = Some(n);
                        }
                        // What Go's writer may add for a file docker save
                        // packs; none of it reaches Docker (the header is
                        // dropped and written anew).
                        "mtime" | "atime" | "ctime" | "uid" | "gid" | "uname" | "gname"
                        | "comment" | "charset" | "hdrcharset" => {}
                        k if k.starts_with("SCHILY.xattr.") => {}
                        _ => {
                            return Err(format!(
                                "the tarball has a PAX {k} record ({v:?}); docker save writes none"
                            ));
                        }
                    }
                }
                self.pax_pending = true;
                Ok(())
            }
            State::Manifest { size } => {
                let manifest = untagged_manifest(&block[..size as usize])?;
                out.extend(fresh_header(
                    "manifest.json",
                    b'0',
                    manifest.len() as u64,
                    "",
                )?);
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
            if self.pax_pending {
                return Err("the tarball ends after a PAX header".into());
            }
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
        if !checksum_ok(&header).unwrap_or(false) {
            return Err("the data is not a tar archive, or one of its headers is damaged".into());
        }
        let pax_size = self.pax_size.take();
        let after_pax = std::mem::replace(&mut self.pax_pending, false);
        let size = match pax_size {
            Some(s) => s,
            None => octal(&header, 124, 12)?,
        };
        if size > MAX_SIZE {
            return Err("an entry of the tarball is too large".into());
        }
        let kind = header[156];
        let mut name = field(&header, 0, 100)?;
        if &header[257..263] == b"ustar\0" {
            let prefix = field(&header, 345, 155)?;
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let refuse = |why: &str| Err(format!("the tarball's entry {name:?} {why}"));
        if kind == b'x' {
            if after_pax {
                return refuse("is a second PAX header in a row");
            }
            if size > MAX_PAX {
                return refuse("is a PAX header too large for a docker save");
            }
            self.state = State::Pax { size };
            return Ok(());
        }
        let entry = classify(&name);
        match (kind, &entry) {
            (_, Entry::Unknown) => refuse("is not part of a docker save tarball"),
            (b'0' | 0, Entry::Manifest) => {
                if self.manifest_seen {
                    return refuse("appears twice");
                }
                if size > MAX_MANIFEST {
                    return refuse("is too large");
                }
                self.state = State::Manifest { size };
                Ok(())
            }
            (b'0' | 0, Entry::Dropped) => {
                self.skip(size, false);
                Ok(())
            }
            (b'0' | 0, Entry::File | Entry::LayerLink) => {
                out.extend(fresh_header(&name, b'0', size, "")?);
                self.skip(size, true);
                Ok(())
            }
            // Links and directories carry no data: a size would make this
            // filter and Docker's reader disagree on where the next header is.
            (b'5' | b'2', _) if size != 0 || pax_size.is_some() => {
                refuse("is a link or directory with a size")
            }
            (b'5', Entry::Dir) => {
                out.extend(fresh_header(&name, b'5', 0, "")?);
                Ok(())
            }
            (b'2', Entry::LayerLink) => {
                let target = field(&header, 157, 100)?;
                if !is_layer_target(&target) {
                    return refuse(&format!(
                        "links to {target:?}, outside the archive's layers"
                    ));
                }
                out.extend(fresh_header(&name, b'2', 0, &target)?);
                Ok(())
            }
            _ => refuse(&format!(
                "has a type ({:?}) docker save does not write",
                kind as char
            )),
        }
    }

    /// Copies (or drops) an entry's data and padding.
    fn skip(&mut self, size: u64, keep: bool) {
        if size > 0 {
            self.state = State::Data {
                left: padded(size),
                keep,
            };
        }
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

    fn with_before(prefix: Vec<u8>) -> Vec<u8> {
        let mut t = prefix;
        t.extend(tarball(&manifest_with("null")));
        t
    }

    #[test]
    fn a_lowercase_repotags_key_is_refused() {
        // Go's JSON decoder matches field names without case: the filter
        // must not leave a second spelling behind.
        let m = format!(
            r#"[{{"Config":"{c}.json","repotags":["busybox:latest"],"Layers":["{a}/layer.tar"]}}]"#,
            c = id('c'),
            a = id('a')
        );
        assert!(filter_all(&tarball(&m), 512).is_err());
    }

    #[test]
    fn parser_differentials_are_refused() {
        // A directory or link with a size: Go reads no data for it.
        let mut dir = header(&format!("{}/", id('b')), b'5', 1024, "");
        dir.extend(vec![0u8; 1024]);
        assert!(filter_all(&with_before(dir), 512).is_err(), "dir with size");
        // GNU sparse renaming, a global header, two PAX headers in a row.
        let pax = |kind: u8, record: &str| {
            let body = format!(
                "{} {record}\n",
                record.len() + 2 + (record.len() + 2).to_string().len()
            );
            let mut h = header("PaxHeader/x", kind, body.len() as u64, "");
            h.extend(body.as_bytes());
            h.resize(BLOCK * 2, 0);
            h
        };
        assert!(
            filter_all(
                &with_before(pax(b'x', "GNU.sparse.name=manifest.json")),
                512
            )
            .is_err(),
            "GNU.sparse.name"
        );
        assert!(
            filter_all(&with_before(pax(b'g', "size=1024")), 512).is_err(),
            "global"
        );
        // One PAX header of harmless records before an entry passes...
        let mut one = pax(b'x', "mtime=10");
        one.extend(entry(&format!("{}.json", id('e')), b"{}"));
        filter_all(&with_before(one), 512).expect("a PAX mtime is harmless");
        // ... two in a row do not.
        let mut twice = pax(b'x', "mtime=10");
        twice.extend(pax(b'x', "mtime=20"));
        assert!(filter_all(&with_before(twice), 512).is_err(), "x after x");
        // A size Go would read past a leading NUL.
        let mut nul = header(&format!("{}.json", id('b')), b'0', 0, "");
        nul[124..136].copy_from_slice(b"\x000000001000\0");
        set_checksum(&mut nul);
        assert!(filter_all(&with_before(nul), 512).is_err(), "leading NUL");
        // A wrong checksum.
        let mut bad = header(&format!("{}.json", id('b')), b'0', 0, "");
        bad[148] = b'7';
        assert!(filter_all(&with_before(bad), 512).is_err(), "checksum");
    }

    #[test]
    fn docker_sees_only_headers_the_filter_wrote() {
        let mut h = header(&format!("{}.json", id('d')), b'0', 2, "");
        h[265..269].copy_from_slice(b"evil");
        write_octal(&mut h, 108, 8, 0o1234);
        set_checksum(&mut h);
        let mut t = h;
        t.extend(b"{}");
        t.resize(BLOCK * 2, 0);
        let out = filter_all(&with_before(t), 512).expect("a plain file passes");
        let first = &out[..BLOCK];
        assert_eq!(&first[265..269], &[0, 0, 0, 0], "no uname of the tenant's");
        assert_eq!(octal(first, 108, 8).expect("uid"), 0);
        let e = entries(&out);
        assert_eq!(e[0].1, b"{}");
    }

    #[test]
    fn index_json_is_dropped() {
        let t = with_before(entry("index.json", br#"{"manifests":[]}"#));
        let out = filter_all(&t, 512).expect("passes");
        assert!(!entries(&out).iter().any(|(n, _)| n == "index.json"));
    }
}
