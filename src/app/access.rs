//! Read access to the dashboard's state (the screen draws from it, tests check it), and the few
//! setters the code that builds an app needs. The fields themselves are private: everything
//! else changes through `update(action)` and the `on_*` events.

use super::*;

/// A getter per field, returning a copy.
macro_rules! copied {
    ($($(#[$m:meta])* $name:ident: $t:ty;)*) => {
        impl App {
            $($(#[$m])* pub fn $name(&self) -> $t { self.$name })*
        }
    };
}

/// A getter per field, returning a reference.
macro_rules! borrowed {
    ($($(#[$m:meta])* $name:ident: $t:ty;)*) => {
        impl App {
            $($(#[$m])* pub fn $name(&self) -> &$t { &self.$name })*
        }
    };
}

copied! {
    /// Requested steps per second while running (0 = max).
    speed: f64;
    /// Measured steps per second.
    rate: f64;
    should_quit: bool;
    log_y: bool;
    full_history: bool;
    /// Rows the table shows at once.
    page: usize;
    /// The step with the lowest dev loss seen, and that loss (marked on the loss chart).
    best: Option<(u64, f64)>;
    /// What the source of reports can do.
    caps: Capabilities;
    overlay: Overlay;
    /// The data map replaces the loss chart.
    show_datamap: bool;
    /// The selected segment's whole text, wrapped, below the table.
    show_preview: bool;
    help: HelpView;
    detail: DetailView;
    diff: DiffView;
    edits_view: EditsView;
    /// The last fork: the run went back from the first step to the second.
    forked: Option<(u64, u64)>;
    /// The labels' kind, when known.
    labels: Option<crate::labels::LabelInfo>;
}

borrowed! {
    ds: Arc<Dataset>;
    part: Arc<Partition>;
    ui: UiConfig;
    info: RunInfo;
    keymap: Keymap;
    run: RunState;
    report: Option<StepReport>;
    /// Metrics before the latest report, for trends.
    prev_metrics: Option<(SplitMetrics, SplitMetrics)>;
    history: Vec<HistPoint>;
    /// Recent per-step predictions of every segment, newest last.
    pred_history: VecDeque<(u64, Arc<Vec<SegmentEval>>)>;
    /// Robust z, outliers, shares and the batch of the latest report.
    analysis: Analysis;
    /// Each segment's class for the outliers' robust z.
    classes: Vec<u8>;
    /// Why each segment's tags or labels contradict its target.
    contradictions: Vec<Option<String>>;
    /// The segments table: its rows, sort, filter and cursor.
    view: TableView;
    status: Option<String>;
    /// What the event loop is to do on the app's behalf, oldest first.
    outbox: Vec<Effect>;
    /// The dataset's label keys (`noise`, `hard`, ...).
    label_keys: Vec<String>;
    /// Cross-fitted (out-of-fold) prediction and residual per segment, when loaded.
    oof: Option<Vec<crate::labels::crossfit::OofSegment>>;
    /// The kind of the labels, and what an audit expects of the flags: for the header.
    labels_note: String;
    /// The metrics that fit the labels' kind for the current report.
    label_metrics: Option<crate::labels::prm_metrics::LabelMetrics>;
    /// A comparison's per-model history.
    models: Models;
    datamap: Option<DataMap>;
    /// The background audit: not asked, running, or done.
    audit: AuditState;
    /// Marked steps and every segment's prediction then, newest last.
    marks: Vec<(u64, Arc<Vec<SegmentEval>>)>;
    /// The what-if edits in force, in order.
    edits: Edits;
    /// A weight or target being typed.
    prompt: Option<Prompt>;
}

impl App {
    /// The labels' kind: the header's note says it, and the metrics that fit it are computed.
    pub fn set_labels(&mut self, labels: crate::labels::LabelInfo) {
        self.labels_note = labels.describe();
        self.labels = Some(labels);
    }

    /// Adds to the header's note on the labels (what a loaded audit expects of its flags).
    pub fn note_labels(&mut self, more: &str) {
        self.labels_note.push_str(more);
    }

    /// Replaces the header's note on the labels.
    pub fn set_labels_note(&mut self, note: String) {
        self.labels_note = note;
    }

    pub fn set_label_metrics(&mut self, m: Option<crate::labels::prm_metrics::LabelMetrics>) {
        self.label_metrics = m;
    }

    /// What the source can do (the event loop says, once it has the source).
    pub fn set_caps(&mut self, caps: Capabilities) {
        self.caps = caps;
    }

    /// Rows the table shows at once (the event loop sets it from the layout).
    pub fn set_page(&mut self, page: usize) {
        self.page = page;
    }

    pub fn set_run(&mut self, run: RunState) {
        self.run = run;
    }

    pub fn set_speed(&mut self, speed: f64) {
        self.speed = speed;
    }

    pub fn set_keymap(&mut self, keymap: Keymap) {
        self.keymap = keymap;
    }

    pub fn set_status(&mut self, status: Option<String>) {
        self.status = status;
    }

    pub fn set_overlay(&mut self, overlay: Overlay) {
        self.overlay = overlay;
    }

    /// The table, to set its sort or filter from outside (then [`App::refresh_rows`]).
    pub fn view_mut(&mut self) -> &mut TableView {
        &mut self.view
    }

    /// The effects queued so far, for the event loop to carry out; the outbox is left empty.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.outbox)
    }
}
