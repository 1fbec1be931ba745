"""A minimal vhost-user frontend (the VM side) for tests: it connects to a
vhost-user port's socket, shares one memfd as guest memory and sets up a
queue pair of split virtqueues in it.  It puts frames on the guest's
transmit ring as a virtio driver would, and it can also write what no
driver would (descriptors outside memory, looping chains, bad memory
tables) to check that the switch stops only that port.

Guest memory layout (guest physical = offset in the memfd):
  per ring r (0 = guest receive, 1 = guest transmit), at r * RING_AREA:
    descriptors, avail ring, used ring
  buffers from BUF_BASE on, BUF_SIZE bytes each.
"""

import array
import mmap
import os
import socket
import struct

GET_FEATURES = 1
SET_FEATURES = 2
SET_OWNER = 3
SET_MEM_TABLE = 5
SET_VRING_NUM = 8
SET_VRING_ADDR = 9
SET_VRING_BASE = 10
SET_VRING_KICK = 12
SET_VRING_CALL = 13
GET_PROTOCOL_FEATURES = 15
SET_PROTOCOL_FEATURES = 16
SET_VRING_ENABLE = 18

F_MRG_RXBUF = 1 << 15
F_VERSION_1 = 1 << 32
F_PROTOCOL_FEATURES = 1 << 30
F_EVENT_IDX = 1 << 29
F_LOG_ALL = 1 << 26
SET_LOG_BASE = 6

DESC_F_NEXT = 1
DESC_F_WRITE = 2

MEM_SIZE = 4 << 20
USER_BASE = 0x7f0000000000  # the "frontend's" virtual address of memory
RING_SIZE = 256
RING_AREA = 64 << 10
BUF_BASE = 2 * RING_AREA
BUF_SIZE = 2048
HDR_LEN = 12


class Frontend:
    def __init__(self, path, connect=True):
        self.path = path
        self.sock = None
        self.memfd = os.memfd_create("vsw-test-guest")
        os.ftruncate(self.memfd, MEM_SIZE)
        self.mem = mmap.mmap(self.memfd, MEM_SIZE)
        self.kicks = []
        self.calls = []
        self.avail_idx = [0, 0]
        self.next_buf = 0
        if connect:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(path)

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None
        for fd in self.kicks + self.calls:
            os.close(fd)
        self.kicks, self.calls = [], []
        self.mem.close()
        os.close(self.memfd)

    # ---- messages ----

    def send(self, request, payload=b"", fds=(), need_reply=False):
        flags = 1 | (0x8 if need_reply else 0)
        data = struct.pack("<III", request, flags, len(payload)) + payload
        anc = []
        if fds:
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                    array.array("i", fds).tobytes())]
        self.sock.sendmsg([data], anc)

    def recv_u64(self):
        header = self._recv_exact(12)
        _, _, size = struct.unpack("<III", header)
        payload = self._recv_exact(size)
        return struct.unpack("<Q", payload[:8])[0]

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("backend closed the connection")
            data += chunk
        return data

    def u64(self, request, value, fds=()):
        self.send(request, struct.pack("<Q", value), fds)

    def state(self, request, index, num):
        self.send(request, struct.pack("<II", index, num))

    # ---- set-up ----

    def mem_table(self, regions=None, fds=None):
        """Sends SET_MEM_TABLE: by default one region, the whole memfd."""
        if regions is None:
            regions = [(0, MEM_SIZE, USER_BASE, 0)]
        if fds is None:
            fds = [self.memfd] * len(regions)
        payload = struct.pack("<II", len(regions), 0)
        for gpa, size, uaddr, offset in regions:
            payload += struct.pack("<QQQQ", gpa, size, uaddr, offset)
        self.send(SET_MEM_TABLE, payload, fds)

    def ring_base(self, r):
        return r * RING_AREA

    def reconnect(self):
        """A new connection to the socket, the guest memory and rings
        kept (what QEMU's reconnecting vhost-user client does); setup()
        with bases= then resumes the rings."""
        self.sock.close()
        for fd in self.kicks + self.calls:
            os.close(fd)
        self.kicks, self.calls = [], []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)

    def setup(self, features=F_VERSION_1 | F_MRG_RXBUF | F_PROTOCOL_FEATURES,
              mem=True, log_used=False, bases=(0, 0)):
        self.send(GET_FEATURES)
        offered = self.recv_u64()
        assert offered & features == features, hex(offered)
        self.send(SET_OWNER)
        if features & F_PROTOCOL_FEATURES:
            self.send(GET_PROTOCOL_FEATURES)
            self.recv_u64()
            self.u64(SET_PROTOCOL_FEATURES, 0)
        self.u64(SET_FEATURES, features)
        if mem:
            self.mem_table()
        for r in (0, 1):
            base = self.ring_base(r)
            self.state(SET_VRING_NUM, r, RING_SIZE)
            self.state(SET_VRING_BASE, r, bases[r])
            desc = base
            avail = base + 16 * RING_SIZE
            used = base + 16 * RING_SIZE + 4096
            self.send(SET_VRING_ADDR, struct.pack(
                "<IIQQQQ", r, 1 if log_used else 0, USER_BASE + desc,
                USER_BASE + used, USER_BASE + avail,
                used if log_used else 0))
            kick = os.eventfd(0, os.EFD_NONBLOCK)
            call = os.eventfd(0, os.EFD_NONBLOCK)
            self.kicks.append(kick)
            self.calls.append(call)
            self.u64(SET_VRING_CALL, r, [call])
            self.u64(SET_VRING_KICK, r, [kick])
            if features & F_PROTOCOL_FEATURES:
                self.state(SET_VRING_ENABLE, r, 1)

    def log_base(self, size):
        """Starts dirty logging (live migration) into a new memfd of
        'size' bytes, one bit per 4 KB page; returns its mapping."""
        fd = os.memfd_create("vsw-test-log")
        os.ftruncate(fd, size)
        self.send(SET_LOG_BASE, struct.pack("<QQ", size, 0), [fd])
        self.recv_u64()
        log = mmap.mmap(fd, size)
        os.close(fd)
        return log

    # ---- rings ----

    def write_desc(self, r, index, addr, length, flags, nxt):
        off = self.ring_base(r) + 16 * index
        self.mem[off:off + 16] = struct.pack("<QIHH", addr, length, flags,
                                             nxt)

    def publish(self, r, heads, avail_idx=None, kick=True):
        """Puts chain 'heads' on the avail ring of 'r' and kicks (unless
        not 'kick')."""
        base = self.ring_base(r) + 16 * RING_SIZE
        for head in heads:
            slot = self.avail_idx[r] % RING_SIZE
            off = base + 4 + 2 * slot
            self.mem[off:off + 2] = struct.pack("<H", head)
            self.avail_idx[r] = (self.avail_idx[r] + 1) & 0xffff
        idx = self.avail_idx[r] if avail_idx is None else avail_idx
        self.mem[base + 2:base + 4] = struct.pack("<H", idx)
        if kick:
            os.eventfd_write(self.kicks[r], 1)

    def avail_event(self, r):
        """What the switch wrote after its used ring (EVENT_IDX)."""
        off = self.ring_base(r) + 16 * RING_SIZE + 4096 + 4 + 8 * RING_SIZE
        return struct.unpack("<H", self.mem[off:off + 2])[0]

    def set_used_event(self, r, value):
        """Where the guest wants its next interrupt (EVENT_IDX)."""
        off = self.ring_base(r) + 16 * RING_SIZE + 4 + 2 * RING_SIZE
        self.mem[off:off + 2] = struct.pack("<H", value)

    def calls_pending(self, r):
        """Reads (and clears) the call eventfd of ring 'r'."""
        try:
            return os.eventfd_read(self.calls[r])
        except BlockingIOError:
            return 0

    def used_idx(self, r):
        off = self.ring_base(r) + 16 * RING_SIZE + 4096 + 2
        return struct.unpack("<H", self.mem[off:off + 2])[0]

    def buffer(self):
        """A fresh buffer's guest address."""
        addr = BUF_BASE + BUF_SIZE * self.next_buf
        self.next_buf += 1
        return addr

    def send_frame(self, frame, index=0, vnet=None, kick=True):
        """Sends 'frame' as descriptor 'index' of the transmit ring, after
        the 12-byte virtio-net header 'vnet' (zeros by default); kicks
        unless not 'kick'."""
        addr = self.buffer()
        for _ in range(len(frame) // BUF_SIZE):
            self.buffer()  # room for a large frame
        data = (vnet or bytes(HDR_LEN)) + frame
        self.mem[addr:addr + len(data)] = data
        self.write_desc(1, index, addr, len(data), 0, 0)
        self.publish(1, [index], kick=kick)

    def give_rx_buffers(self, n):
        """Offers 'n' receive buffers to the switch."""
        heads = []
        for i in range(n):
            self.write_desc(0, i, self.buffer(), BUF_SIZE, DESC_F_WRITE, 0)
            heads.append(i)
        self.publish(0, heads)


def vnet_header(flags=0, gso_type=0, hdr_len=0, gso_size=0, csum_start=0,
                csum_offset=0):
    return struct.pack("<BBHHHHH", flags, gso_type, hdr_len, gso_size,
                       csum_start, csum_offset, 0)
