//! A UDP echo for the test image (busybox's nc has no UDP): `udp-echo serve
//! PORT` answers every datagram with its bytes; `udp-echo send ADDR:PORT
//! TEXT` sends TEXT, prints the answer and exits 0, or exits 1 after five
//! tries of one second. Built static by tools/build-test-image.sh.
use std::net::UdpSocket;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        Some("serve") if args.len() == 3 => serve(&args[2]),
        Some("send") if args.len() == 4 => send(&args[2], &args[3]),
        _ => {
            eprintln!("usage: udp-echo serve PORT | udp-echo send ADDR:PORT TEXT");
            2
        }
    };
    std::process::exit(code);
}

fn serve(port: &str) -> i32 {
    let Ok(sock) = UdpSocket::bind(format!("0.0.0.0:{port}")) else {
        eprintln!("udp-echo: cannot bind port {port}");
        return 1;
    };
    let mut buf = [0u8; 2048];
    loop {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    }
}

fn send(to: &str, text: &str) -> i32 {
    let Ok(sock) = UdpSocket::bind("0.0.0.0:0") else {
        return 1;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 2048];
    for _ in 0..5 {
        if sock.send_to(text.as_bytes(), to).is_err() {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        if let Ok(n) = sock.recv(&mut buf) {
            println!("{}", String::from_utf8_lossy(&buf[..n]));
            return 0;
        }
    }
    1
}
