//! Opening the device node the way the real tools do, so a missing or unreadable device
//! fails with the same errno and message.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::OFlag;

/// Opens and closes `device` read-only or read-write with O_NONBLOCK, like
/// sg3_utils' `sg_cmds_open_device`. Returns the errno on failure.
pub fn probe_open(device: &Path, read_write: bool) -> Result<(), i32> {
    OpenOptions::new()
        .read(true)
        .write(read_write)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(device)
        .map(drop)
        .map_err(|e| e.raw_os_error().unwrap_or(nix::errno::Errno::EIO as i32))
}

/// The C library's `strerror` text for an errno.
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_device_reports_enoent() {
        assert_eq!(
            probe_open(Path::new("/nonexistent/svcemu-dev"), false),
            Err(nix::errno::Errno::ENOENT as i32)
        );
        assert_eq!(strerror(2), "No such file or directory");
        assert_eq!(probe_open(Path::new("/dev/null"), true), Ok(()));
    }
}
