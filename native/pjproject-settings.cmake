# The pjproject compile-time settings PjSharp requires, in one place.
#
# Read by native/CMakeLists.txt (the shim is compiled with them), by the vcpkg
# overlay triplets in native/triplets (pjproject is compiled with them), and by the
# binding generator (headers are parsed with them), so that struct layouts agree.
# Anyone building pjproject by hand passes the same -D flags in CFLAGS; the README
# lists them. SipEndpoint checks the linked library against them at start-up.
set(PJSHARP_PJPROJECT_DEFINES
  # Release build: pjlib assertions abort the process on bad input.
  NDEBUG
  PJ_DEBUG=0
  # Sockets over IPv6 as well as IPv4.
  PJ_HAS_IPV6=1
  # Stock select() ioqueue stops at 64 handles; servers need thousands (use epoll).
  PJ_IOQUEUE_MAX_HANDLES=16384
  # Transaction and dialog hash tables sized for a busy server (2^16-1 buckets).
  PJSIP_MAX_TSX_COUNT=65535
  PJSIP_MAX_DIALOG_COUNT=65535
  # Large UDP socket buffers absorb bursts instead of dropping datagrams.
  PJSIP_UDP_SO_RCVBUF_SIZE=4194304
  PJSIP_UDP_SO_SNDBUF_SIZE=4194304
  # Room for INVITEs with large SDP bodies over TCP/TLS.
  PJSIP_MAX_PKT_LEN=16384
  # WebRTC endpoints key SRTP with DTLS (RFC 5763/5764); pjmedia builds it only when asked.
  PJMEDIA_SRTP_HAS_DTLS=1
)

# Settings below which start-up warns: a pjproject built without them still works.
set(PJSHARP_PJPROJECT_MINIMUM_VERSION 2.15.1)
