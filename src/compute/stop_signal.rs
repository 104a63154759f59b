//! Whether a container's main process can act on its stop signal.
//!
//! The kernel drops a signal sent from outside a PID namespace to that
//! namespace's PID 1 unless PID 1 installed a handler for it (SIGKILL
//! excepted). A main process without one (busybox `sleep`, `httpd -f`, most
//! single-binary images) never sees Docker's SIGTERM, and waiting out Nova's
//! shutdown timeout for it only delays the inevitable SIGKILL.

/// The signal's number, from Docker's forms: `SIGTERM`, `TERM` or `15`.
pub fn number(name: &str) -> Option<u32> {
    let name = name.trim();
    if let Ok(n) = name.parse::<u32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = name.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "PWR" => libc::SIGPWR,
        "WINCH" => libc::SIGWINCH,
        _ => {
            let offset = name.strip_prefix("RTMIN+")?.parse::<i32>().ok()?;
            libc::SIGRTMIN() + offset
        }
    };
    u32::try_from(n).ok()
}

/// Whether `/proc/<pid>/status` shows a handler for signal `signo`; None
/// when the process cannot be read (then the caller keeps the grace period).
pub fn handled(pid: i64, signo: u32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    caught_in(&status, signo)
}

fn caught_in(status: &str, signo: u32) -> Option<bool> {
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())?;
    let bit = signo.checked_sub(1).filter(|b| *b < 64)?;
    Some(mask & (1u64 << bit) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_signal_names_become_numbers() {
        assert_eq!(number("SIGTERM"), Some(15));
        assert_eq!(number("term"), Some(15));
        assert_eq!(number("9"), Some(9));
        assert_eq!(
            number("SIGRTMIN+3"),
            u32::try_from(libc::SIGRTMIN() + 3).ok()
        );
        assert_eq!(number("SIGNOPE"), None);
        assert_eq!(number("0"), None);
    }

    #[test]
    fn the_caught_mask_tells_handlers() {
        // sh with `trap ... TERM` catches SIGTERM (bit 14) and SIGINT (bit 1).
        let status = "Name:\tsh\nSigIgn:\t0000000000000004\nSigCgt:\t0000000000004002\n";
        assert_eq!(caught_in(status, 15), Some(true));
        assert_eq!(caught_in(status, 2), Some(true));
        assert_eq!(caught_in(status, 3), Some(false), "ignored is not caught");
        assert_eq!(caught_in("Name:\tx\n", 15), None);
    }
}
