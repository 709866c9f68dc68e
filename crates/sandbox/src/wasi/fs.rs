//! The guest's filesystem: three in-memory trees, nothing from the host.
//!
//! ```text
//!   /input    read-only   the job's input files (nested names allowed)
//!   /output   read-write  collected after the run; total size <= max_output_bytes
//!   /scratch  read-write  private to this run, dropped after it; total size <= memory_bytes
//! ```
//!
//! Why in memory rather than a host temp dir: nothing the guest does can
//! reach a host path (no symlinks, no hard links, no `..` above a root), and
//! every observable property is deterministic — directory order is sorted by
//! name, inode numbers are allocation order, every timestamp is zero — so
//! two providers running the same job see the same filesystem bit for bit.

use std::collections::BTreeMap;

use super::Fault;
use super::abi::{
    EEXIST, EINVAL, EISDIR, ENAMETOOLONG, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, EROFS, Errno,
    FILETYPE_DIRECTORY, FILETYPE_REGULAR_FILE,
};

/// Index of a node in [`Fs::nodes`]; the guest sees `id + 1` as the inode number.
pub(crate) type NodeId = usize;

/// Longest file or directory name, as on common host filesystems.
const MAX_NAME_LEN: usize = 255;
/// Most files and directories a guest may create in one run (inputs not counted).
const MAX_CREATED_NODES: usize = 100_000;

/// One of the three preopened trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    Input,
    Output,
    Scratch,
}

impl Area {
    /// All areas in preopen order (file descriptors 3, 4, 5).
    pub(crate) const ALL: [Area; 3] = [Area::Input, Area::Output, Area::Scratch];

    /// The absolute guest path this area is preopened as.
    pub(crate) fn mount(self) -> &'static str {
        match self {
            Area::Input => "/input",
            Area::Output => "/output",
            Area::Scratch => "/scratch",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
enum Kind {
    File(Vec<u8>),
    Dir(BTreeMap<String, NodeId>),
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    /// `None` for an area's root.
    parent: Option<NodeId>,
    area: Area,
    /// False once unlinked; the node lives on while a descriptor holds it.
    linked: bool,
}

/// `stat` fields the guest can observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
    pub(crate) size: u64,
}

/// A directory entry as `fd_readdir` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirEntry {
    pub(crate) name: String,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
}

/// Where a path leads: an existing node, or a missing name in an existing directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    Existing(NodeId),
    Missing { dir: NodeId, name: String },
}

/// The in-memory filesystem of one run.
#[derive(Debug)]
pub(crate) struct Fs {
    nodes: Vec<Option<Node>>,
    roots: [NodeId; 3],
    /// Bytes held by files, per area.
    used: [u64; 3],
    /// Byte budget per area (`u64::MAX` for the read-only input).
    quota: [u64; 3],
    created: usize,
}

impl Fs {
    /// Builds the trees with the job's inputs under `/input`.
    ///
    /// Input names are `/`-separated relative paths; an `Err` carries the
    /// offending name and why it was refused.
    pub(crate) fn new(
        inputs: &[(String, Vec<u8>)],
        output_quota: u64,
        scratch_quota: u64,
    ) -> Result<Self, (String, &'static str)> {
        let mut fs = Fs {
            nodes: Vec::new(),
            roots: [0; 3],
            used: [0; 3],
            quota: [u64::MAX, output_quota, scratch_quota],
            created: 0,
        };
        for area in Area::ALL {
            fs.roots[area.index()] = fs.push(Node {
                kind: Kind::Dir(BTreeMap::new()),
                parent: None,
                area,
                linked: true,
            });
        }
        for (name, data) in inputs {
            fs.add_input(name, data)
                .map_err(|reason| (name.clone(), reason))?;
        }
        Ok(fs)
    }

    fn add_input(&mut self, name: &str, data: &[u8]) -> Result<(), &'static str> {
        let parts: Vec<&str> = name.split('/').collect();
        if name.is_empty() || parts.iter().any(|p| p.is_empty()) {
            return Err("names must be non-empty relative paths without empty components");
        }
        if parts.iter().any(|p| *p == "." || *p == "..") {
            return Err("names must not contain `.` or `..` components");
        }
        if parts.iter().any(|p| p.len() > MAX_NAME_LEN) {
            return Err("a path component is longer than 255 bytes");
        }
        if name.contains('\0') {
            return Err("names must not contain NUL bytes");
        }
        let mut dir = self.root(Area::Input);
        let (last, dirs) = parts.split_last().expect("split yields at least one part");
        for part in dirs {
            dir = match self.child(dir, part) {
                Some(id) if self.is_dir(id) => id,
                Some(_) => return Err("a parent of this name is also an input file"),
                None => self.insert(dir, part, Kind::Dir(BTreeMap::new())),
            };
        }
        if self.child(dir, last).is_some() {
            return Err("the name is given twice, or is also a directory of other inputs");
        }
        self.insert(dir, last, Kind::File(data.to_vec()));
        Ok(())
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(Some(node));
        self.nodes.len() - 1
    }

    fn node(&self, id: NodeId) -> &Node {
        self.nodes[id].as_ref().expect("live node id")
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        self.nodes[id].as_mut().expect("live node id")
    }

    fn insert(&mut self, dir: NodeId, name: &str, kind: Kind) -> NodeId {
        let area = self.node(dir).area;
        let id = self.push(Node {
            kind,
            parent: Some(dir),
            area,
            linked: true,
        });
        if let Kind::Dir(entries) = &mut self.node_mut(dir).kind {
            entries.insert(name.to_owned(), id);
        }
        id
    }

    fn child(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        match &self.node(dir).kind {
            Kind::Dir(entries) => entries.get(name).copied(),
            Kind::File(_) => None,
        }
    }

    /// The root directory of an area.
    pub(crate) fn root(&self, area: Area) -> NodeId {
        self.roots[area.index()]
    }

    /// The area a node belongs to.
    pub(crate) fn area(&self, id: NodeId) -> Area {
        self.node(id).area
    }

    /// The directory holding a node (`None` for an area's root).
    pub(crate) fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.node(id).parent
    }

    /// Whether the node is a directory.
    pub(crate) fn is_dir(&self, id: NodeId) -> bool {
        matches!(self.node(id).kind, Kind::Dir(_))
    }

    /// Resolves `path` relative to directory `start`.
    ///
    /// `..` may climb up to the area's root and no further; an absolute path
    /// or a climb above the root is an escape attempt, which stops the run
    /// with [`Stop::Denied`](super::Stop::Denied) instead of returning an errno.
    pub(crate) fn resolve(&self, start: NodeId, path: &str) -> Result<Resolved, Fault> {
        if path.is_empty() {
            return Err(ENOENT.into());
        }
        if path.starts_with('/') {
            return Err(Fault::denied(format!(
                "absolute path {path:?} refused: paths are resolved inside the preopened \
                 directories /input, /output and /scratch only"
            )));
        }
        if !self.is_dir(start) {
            return Err(ENOTDIR.into());
        }
        let parts: Vec<&str> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let mut dir = start;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if *part == ".." {
                dir = match self.node(dir).parent {
                    Some(parent) => parent,
                    None => {
                        return Err(Fault::denied(format!(
                            "path {path:?} escapes {}: `..` may not climb above a preopened directory",
                            self.area(start).mount()
                        )));
                    }
                };
                continue;
            }
            if part.len() > MAX_NAME_LEN {
                return Err(ENAMETOOLONG.into());
            }
            match self.child(dir, part) {
                Some(id) if last => return Ok(Resolved::Existing(id)),
                Some(id) if self.is_dir(id) => dir = id,
                Some(_) => return Err(ENOTDIR.into()),
                None if last => {
                    return Ok(Resolved::Missing {
                        dir,
                        name: (*part).to_owned(),
                    });
                }
                None => return Err(ENOENT.into()),
            }
        }
        Ok(Resolved::Existing(dir))
    }

    /// Resolves a path that must exist.
    pub(crate) fn lookup(&self, start: NodeId, path: &str) -> Result<NodeId, Fault> {
        match self.resolve(start, path)? {
            Resolved::Existing(id) => Ok(id),
            Resolved::Missing { .. } => Err(ENOENT.into()),
        }
    }

    fn writable(&self, id: NodeId) -> Result<(), Errno> {
        if self.area(id) == Area::Input {
            Err(EROFS)
        } else {
            Ok(())
        }
    }

    fn count_new_node(&mut self) -> Result<(), Errno> {
        if self.created >= MAX_CREATED_NODES {
            return Err(ENOSPC);
        }
        self.created += 1;
        Ok(())
    }

    /// Creates an empty file `name` in `dir`.
    pub(crate) fn create_file(&mut self, dir: NodeId, name: &str) -> Result<NodeId, Errno> {
        self.writable(dir)?;
        self.count_new_node()?;
        Ok(self.insert(dir, name, Kind::File(Vec::new())))
    }

    /// Creates an empty directory `name` in `dir`.
    pub(crate) fn create_dir(&mut self, dir: NodeId, name: &str) -> Result<NodeId, Errno> {
        self.writable(dir)?;
        self.count_new_node()?;
        Ok(self.insert(dir, name, Kind::Dir(BTreeMap::new())))
    }

    /// `stat` of a node.
    pub(crate) fn stat(&self, id: NodeId) -> Stat {
        let (filetype, size) = match &self.node(id).kind {
            Kind::File(data) => (FILETYPE_REGULAR_FILE, data.len() as u64),
            Kind::Dir(_) => (FILETYPE_DIRECTORY, 0),
        };
        Stat {
            ino: id as u64 + 1,
            filetype,
            size,
        }
    }

    /// The entries of a directory: `.`, `..`, then the names in byte order.
    pub(crate) fn entries(&self, dir: NodeId) -> Result<Vec<DirEntry>, Errno> {
        let Kind::Dir(map) = &self.node(dir).kind else {
            return Err(ENOTDIR);
        };
        let parent = self.node(dir).parent.unwrap_or(dir);
        let mut out = vec![
            DirEntry {
                name: ".".into(),
                ino: dir as u64 + 1,
                filetype: FILETYPE_DIRECTORY,
            },
            DirEntry {
                name: "..".into(),
                ino: parent as u64 + 1,
                filetype: FILETYPE_DIRECTORY,
            },
        ];
        out.extend(map.iter().map(|(name, &id)| DirEntry {
            name: name.clone(),
            ino: id as u64 + 1,
            filetype: self.stat(id).filetype,
        }));
        Ok(out)
    }

    /// Reads up to `len` bytes at `offset` from a file.
    pub(crate) fn read_at(&self, id: NodeId, offset: u64, len: usize) -> Result<&[u8], Errno> {
        match &self.node(id).kind {
            Kind::File(data) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                let end = start.saturating_add(len).min(data.len());
                Ok(&data[start..end])
            }
            Kind::Dir(_) => Err(EISDIR),
        }
    }

    /// Grows or shrinks a file's byte count against its area's quota.
    fn resize(&mut self, id: NodeId, new_len: u64) -> Result<(), Errno> {
        self.writable(id)?;
        let area = self.area(id).index();
        let Kind::File(data) = &self.node(id).kind else {
            return Err(EISDIR);
        };
        let old_len = data.len() as u64;
        if new_len > old_len {
            let grow = new_len - old_len;
            if self.used[area].saturating_add(grow) > self.quota[area] {
                return Err(ENOSPC);
            }
        }
        let new_usize = usize::try_from(new_len).map_err(|_| ENOSPC)?;
        self.used[area] = self.used[area] - old_len + new_len;
        if let Kind::File(data) = &mut self.node_mut(id).kind {
            data.resize(new_usize, 0);
        }
        Ok(())
    }

    /// Writes `bytes` at `offset`, extending the file (zero-filled) as needed.
    pub(crate) fn write_at(&mut self, id: NodeId, offset: u64, bytes: &[u8]) -> Result<(), Errno> {
        if bytes.is_empty() {
            return self.writable(id);
        }
        let end = offset.checked_add(bytes.len() as u64).ok_or(EINVAL)?;
        let len = self.stat(id).size;
        if end > len {
            self.resize(id, end)?;
        } else {
            self.writable(id)?;
        }
        if let Kind::File(data) = &mut self.node_mut(id).kind {
            let start = offset as usize; // <= end, which fits in usize after resize
            data[start..start + bytes.len()].copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Sets a file's size (truncate or zero-extend).
    pub(crate) fn set_size(&mut self, id: NodeId, size: u64) -> Result<(), Errno> {
        self.resize(id, size)
    }

    /// Removes the entry `name` from `dir`; `want_dir` selects unlink vs rmdir.
    pub(crate) fn remove(
        &mut self,
        dir: NodeId,
        name: &str,
        want_dir: bool,
    ) -> Result<NodeId, Errno> {
        self.writable(dir)?;
        let id = self.child(dir, name).ok_or(ENOENT)?;
        match (&self.node(id).kind, want_dir) {
            (Kind::Dir(_), false) => return Err(EISDIR),
            (Kind::File(_), true) => return Err(ENOTDIR),
            (Kind::Dir(entries), true) if !entries.is_empty() => return Err(ENOTEMPTY),
            _ => {}
        }
        if let Kind::Dir(entries) = &mut self.node_mut(dir).kind {
            entries.remove(name);
        }
        self.node_mut(id).linked = false;
        Ok(id)
    }

    /// Frees an unlinked node once nothing refers to it; gives its bytes back to the quota.
    pub(crate) fn release_if_orphan(&mut self, id: NodeId) {
        let Some(node) = &self.nodes[id] else { return };
        if node.linked {
            return;
        }
        if let Kind::File(data) = &node.kind {
            self.used[node.area.index()] -= data.len() as u64;
        }
        self.nodes[id] = None;
    }

    /// Whether `id` is `ancestor` or lies below it.
    fn is_within(&self, mut id: NodeId, ancestor: NodeId) -> bool {
        loop {
            if id == ancestor {
                return true;
            }
            match self.node(id).parent {
                Some(p) => id = p,
                None => return false,
            }
        }
    }

    /// Moves `from_dir/from_name` to `to_dir/to_name`, replacing a file or an
    /// empty directory there. Returns a replaced node, which may need releasing.
    pub(crate) fn rename(
        &mut self,
        from_dir: NodeId,
        from_name: &str,
        to_dir: NodeId,
        to_name: &str,
    ) -> Result<Option<NodeId>, Fault> {
        self.writable(from_dir)?;
        self.writable(to_dir)?;
        if self.area(from_dir) != self.area(to_dir) {
            return Err(super::abi::EXDEV.into());
        }
        let id = self.child(from_dir, from_name).ok_or(ENOENT)?;
        if self.is_dir(id) && self.is_within(to_dir, id) {
            return Err(EINVAL.into());
        }
        let replaced = match self.child(to_dir, to_name) {
            Some(existing) if existing == id => return Ok(None),
            Some(existing) => {
                match (&self.node(existing).kind, self.is_dir(id)) {
                    (Kind::Dir(_), false) => return Err(EISDIR.into()),
                    (Kind::File(_), true) => return Err(ENOTDIR.into()),
                    (Kind::Dir(e), true) if !e.is_empty() => return Err(ENOTEMPTY.into()),
                    _ => {}
                }
                Some(self.remove(to_dir, to_name, self.is_dir(existing))?)
            }
            None => None,
        };
        if let Kind::Dir(entries) = &mut self.node_mut(from_dir).kind {
            entries.remove(from_name);
        }
        if let Kind::Dir(entries) = &mut self.node_mut(to_dir).kind {
            entries.insert(to_name.to_owned(), id);
        }
        self.node_mut(id).parent = Some(to_dir);
        Ok(replaced)
    }

    /// Whether a name may be created in `dir` (it exists and is a writable directory).
    pub(crate) fn check_creatable(&self, dir: NodeId, name: &str) -> Result<(), Errno> {
        if name.len() > MAX_NAME_LEN {
            return Err(ENAMETOOLONG);
        }
        if self.child(dir, name).is_some() {
            return Err(EEXIST);
        }
        self.writable(dir)
    }

    /// Moves every file under `/output` out, as `(relative path, bytes)` in path order.
    pub(crate) fn take_outputs(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root(Area::Output), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let Kind::Dir(entries) = &self.node(dir).kind else {
                continue;
            };
            let entries: Vec<(String, NodeId)> =
                entries.iter().map(|(n, &id)| (n.clone(), id)).collect();
            // Reverse so that popping visits subdirectories in name order.
            for (name, id) in entries.into_iter().rev() {
                let path = if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                };
                match &mut self.node_mut(id).kind {
                    Kind::File(data) => out.push((path, std::mem::take(data))),
                    Kind::Dir(_) => stack.push((id, path)),
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasi::Stop;

    fn fs() -> Fs {
        Fs::new(
            &[
                ("a.txt".into(), b"alpha".to_vec()),
                ("sub/b.txt".into(), b"beta".to_vec()),
                ("sub/deep/c.txt".into(), b"gamma".to_vec()),
            ],
            10,
            100,
        )
        .unwrap()
    }

    fn denied(r: Result<Resolved, Fault>) -> String {
        match r {
            Err(Fault::Stop(Stop::Denied(msg))) => msg,
            other => panic!("expected Denied, got {other:?}"),
        }
    }

    #[test]
    fn inputs_form_a_tree() {
        let fs = fs();
        let input = fs.root(Area::Input);
        let names: Vec<String> = fs
            .entries(input)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, [".", "..", "a.txt", "sub"]);
        let c = fs.lookup(input, "sub/deep/c.txt").unwrap();
        assert_eq!(fs.read_at(c, 1, 100).unwrap(), b"amma");
        assert_eq!(fs.read_at(c, 99, 1).unwrap(), b"");
    }

    #[test]
    fn bad_input_names_are_refused_with_the_name() {
        for bad in ["", "/abs", "a//b", "../x", "a/./b", "x/.."] {
            let err = Fs::new(&[(bad.into(), vec![])], 0, 0).unwrap_err();
            assert_eq!(err.0, bad);
        }
        let dup = Fs::new(&[("a".into(), vec![]), ("a".into(), vec![])], 0, 0).unwrap_err();
        assert!(dup.1.contains("twice"), "{}", dup.1);
        let clash = Fs::new(&[("a".into(), vec![]), ("a/b".into(), vec![])], 0, 0).unwrap_err();
        assert!(clash.1.contains("parent"), "{}", clash.1);
    }

    #[test]
    fn dotdot_stays_inside_the_area() {
        let fs = fs();
        let input = fs.root(Area::Input);
        let deep = fs.lookup(input, "sub/deep").unwrap();
        assert_eq!(
            fs.lookup(deep, "../../a.txt").unwrap(),
            fs.lookup(input, "a.txt").unwrap()
        );
        assert_eq!(fs.lookup(input, "sub/..").unwrap(), input);
        assert_eq!(fs.lookup(input, ".").unwrap(), input);
        let msg = denied(fs.resolve(deep, "../../../etc/passwd"));
        assert!(msg.contains("/input") && msg.contains("escapes"), "{msg}");
        let msg = denied(fs.resolve(input, "/etc/passwd"));
        assert!(msg.contains("absolute"), "{msg}");
        assert!(matches!(
            fs.resolve(input, "a.txt/x"),
            Err(Fault::Errno(ENOTDIR))
        ));
        assert!(matches!(
            fs.resolve(input, "nope/x"),
            Err(Fault::Errno(ENOENT))
        ));
        assert!(matches!(
            fs.resolve(input, "sub/new"),
            Ok(Resolved::Missing { ref name, .. }) if name == "new"
        ));
    }

    #[test]
    fn input_is_read_only_and_quotas_hold() {
        let mut fs = fs();
        let input = fs.root(Area::Input);
        let a = fs.lookup(input, "a.txt").unwrap();
        assert_eq!(fs.write_at(a, 0, b"x"), Err(EROFS));
        assert_eq!(fs.create_file(input, "new"), Err(EROFS));
        assert_eq!(fs.remove(input, "a.txt", false), Err(EROFS));

        let out = fs.root(Area::Output);
        let f = fs.create_file(out, "f").unwrap();
        fs.write_at(f, 0, b"0123456789").unwrap();
        assert_eq!(fs.write_at(f, 10, b"x"), Err(ENOSPC));
        fs.write_at(f, 2, b"ab").unwrap(); // overwriting does not grow
        fs.set_size(f, 4).unwrap();
        fs.write_at(f, 4, b"xyzuvw").unwrap();
        assert_eq!(
            fs.take_outputs(),
            vec![("f".to_string(), b"01abxyzuvw".to_vec())]
        );
    }

    #[test]
    fn unlinked_files_return_their_bytes() {
        let mut fs = fs();
        let out = fs.root(Area::Output);
        let f = fs.create_file(out, "f").unwrap();
        fs.write_at(f, 0, &[1; 10]).unwrap();
        fs.remove(out, "f", false).unwrap();
        // Still open somewhere: bytes stay charged until released.
        let g = fs.create_file(out, "g").unwrap();
        assert_eq!(fs.write_at(g, 0, b"x"), Err(ENOSPC));
        fs.release_if_orphan(f);
        fs.write_at(g, 0, b"x").unwrap();
    }

    #[test]
    fn rename_and_remove_follow_posix_rules() {
        let mut fs = fs();
        let s = fs.root(Area::Scratch);
        let d = fs.create_dir(s, "d").unwrap();
        let e = fs.create_dir(d, "e").unwrap();
        let f = fs.create_file(e, "f").unwrap();
        assert!(matches!(
            fs.rename(s, "d", e, "x"),
            Err(Fault::Errno(EINVAL))
        ));
        assert_eq!(fs.remove(s, "d", true), Err(ENOTEMPTY));
        assert_eq!(fs.remove(e, "f", true), Err(ENOTDIR));
        fs.rename(e, "f", s, "g").unwrap();
        assert_eq!(fs.lookup(s, "g").unwrap(), f);
        assert_eq!(fs.lookup(e, "../../g").unwrap(), f);
        let out = fs.root(Area::Output);
        assert!(matches!(
            fs.rename(s, "g", out, "g"),
            Err(Fault::Errno(super::super::abi::EXDEV))
        ));
    }

    #[test]
    fn outputs_are_collected_in_path_order() {
        let mut fs = fs();
        let out = fs.root(Area::Output);
        let z = fs.create_dir(out, "z").unwrap();
        let b = fs.create_dir(out, "b").unwrap();
        for (dir, name) in [(z, "1"), (b, "2"), (out, "c"), (out, "a")] {
            let f = fs.create_file(dir, name).unwrap();
            fs.write_at(f, 0, name.as_bytes()).unwrap();
        }
        let names: Vec<String> = fs.take_outputs().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b/2", "c", "z/1"]);
    }
}
