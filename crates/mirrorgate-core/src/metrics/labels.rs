//! Label sets of the metric families.

use prometheus_client::encoding::EncodeLabelSet;

use crate::Protocol;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ProtocolLabels {
    pub protocol: &'static str,
}

impl ProtocolLabels {
    pub(super) fn of(protocol: Protocol) -> Self {
        ProtocolLabels {
            protocol: protocol.as_str(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ServiceLabels {
    pub protocol: &'static str,
    pub service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ResponseLabels {
    pub protocol: &'static str,
    pub service: String,
    pub backend: String,
    pub status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct BackendLabels {
    pub service: String,
    pub backend: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct HandshakeLabels {
    pub transport: &'static str,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MirrorLabels {
    pub service: String,
    pub mirror: String,
}

/// A mirror plus a status class or reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MirrorReasonLabels {
    pub service: String,
    pub mirror: String,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MirrorOutcomeLabels {
    pub service: String,
    pub mirror: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReloadLabels {
    pub result: &'static str,
}

/// A protection limit and where it was hit.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct LimitLabels {
    pub protocol: &'static str,
    pub limit: &'static str,
}
