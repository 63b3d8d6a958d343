//! Protocol revisions and what each one allows.
//!
//! Legacy revisions open with an `initialize` handshake; the modern revision (2026-07-28)
//! is stateless and carries its version in every request's `_meta`. The server speaks
//! all of them on the same endpoint (versioning, "dual-era").

/// A protocol revision this server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Revision {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl Revision {
    /// Every supported revision, newest first: the order `supportedVersions` and
    /// `UnsupportedProtocolVersion` errors list them in.
    pub const ALL: [Revision; 5] = [
        Revision::V2026_07_28,
        Revision::V2025_11_25,
        Revision::V2025_06_18,
        Revision::V2025_03_26,
        Revision::V2024_11_05,
    ];

    /// Answered to an `initialize` that asks for a revision this server does not know.
    pub const LATEST_LEGACY: Revision = Revision::V2025_11_25;

    /// Assumed for a legacy request without `MCP-Protocol-Version` (2025-06-18
    /// transports: "the server SHOULD assume protocol version 2025-03-26").
    pub const DEFAULT_LEGACY: Revision = Revision::V2025_03_26;

    pub fn parse(text: &str) -> Option<Revision> {
        Revision::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Revision::V2024_11_05 => "2024-11-05",
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
        }
    }

    /// Stateless, per-request `_meta`, no `initialize`.
    pub fn is_modern(self) -> bool {
        self >= Revision::V2026_07_28
    }

    /// JSON-RPC batches: added in 2025-03-26, removed in 2025-06-18.
    pub fn allows_batches(self) -> bool {
        self == Revision::V2025_03_26
    }

    /// `Tool.annotations` (2025-03-26 on).
    pub fn has_tool_annotations(self) -> bool {
        self >= Revision::V2025_03_26
    }

    /// `title` on tools and `Implementation` (2025-06-18 on).
    pub fn has_titles(self) -> bool {
        self >= Revision::V2025_06_18
    }

    /// The supported revisions as strings, newest first.
    pub fn supported() -> Vec<&'static str> {
        Revision::ALL.iter().map(|r| r.as_str()).collect()
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Revision {
    /// Argument validation failures are tool execution errors (`isError: true`) from
    /// 2025-11-25 on, so the model can correct itself; before, they were `-32602`.
    pub fn reports_argument_errors_as_results(self) -> bool {
        self >= Revision::V2025_11_25
    }
}
