//! A response status as the class metrics count it by: 1xx to 5xx.

use http::StatusCode;

/// The class of a status, one counter slot each. Statuses above 599 count
/// as 5xx: a backend that sends one has failed to speak HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 1xx.
    Informational,
    /// 2xx.
    Success,
    /// 3xx.
    Redirection,
    /// 4xx.
    ClientError,
    /// 5xx and anything beyond.
    ServerError,
}

impl StatusClass {
    /// Every class, in slot order.
    pub const ALL: [StatusClass; 5] = [
        StatusClass::Informational,
        StatusClass::Success,
        StatusClass::Redirection,
        StatusClass::ClientError,
        StatusClass::ServerError,
    ];

    /// The class of `status`.
    pub fn of(status: StatusCode) -> Self {
        match status.as_u16() / 100 {
            1 => StatusClass::Informational,
            2 => StatusClass::Success,
            3 => StatusClass::Redirection,
            4 => StatusClass::ClientError,
            _ => StatusClass::ServerError,
        }
    }

    /// Its slot in a per-class array of counters: 1xx at 0 to 5xx at 4.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its label value, `1xx` to `5xx`.
    pub fn label(self) -> &'static str {
        match self {
            StatusClass::Informational => "1xx",
            StatusClass::Success => "2xx",
            StatusClass::Redirection => "3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_into_their_class_and_slot() {
        assert_eq!(StatusClass::of(StatusCode::CONTINUE).index(), 0);
        assert_eq!(StatusClass::of(StatusCode::OK).label(), "2xx");
        assert_eq!(StatusClass::of(StatusCode::NOT_FOUND).index(), 3);
        let odd = StatusCode::from_u16(799).unwrap();
        assert_eq!(StatusClass::of(odd), StatusClass::ServerError);
        for (slot, class) in StatusClass::ALL.into_iter().enumerate() {
            assert_eq!(class.index(), slot);
        }
    }
}
