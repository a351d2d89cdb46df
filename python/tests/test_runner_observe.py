"""The runner's observation options (docs/observe.md): --trace, --trace-data, --pcap, --keylog
and --device-ip, one setting with the library's UPYSOCK_DEVICE_IP, shared by WLAN.ifconfig()
and the pcap."""
import json
import os
import shutil
import struct
import subprocess
import tempfile
import textwrap
import unittest

from runner_support import FLASH, Proc, c_example, clean_env, needs_build, py_example, run, run_script, runner_cmd

SEND = textwrap.dedent("""
    import usocket
    print("run")
    s = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM)
    s.sendto(b'hello board', ('192.168.0.77', 4444))
    s.close()
    """).lstrip()


def pcap_datagrams(path):
    """(source ip, destination ip, destination port, payload) of each UDP frame (LINKTYPE_RAW)."""
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, linktype) == (0xa1b2c3d4, 101), (hex(magic), linktype)
    at, out = 24, []
    while at < len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + incl]
        at += 16 + incl
        if frame[9] == 17:
            ip = lambda b: ".".join(map(str, b))
            out.append((ip(frame[12:16]), ip(frame[16:20]), struct.unpack(">H", frame[22:24])[0], frame[28:]))
    return out


class ObserveOptions(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="upysock-observe-")
        self.addCleanup(shutil.rmtree, self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_trace_and_pcap_options(self):
        status, out, err = run_script(self, SEND, "--trace", self.path("t.jsonl"), "--trace-data", "5",
                                      "--pcap", self.path("p.pcap"), "--device-ip", "10.0.0.7")
        self.assertEqual((status, out, err), (0, "run\n", ""))
        with open(self.path("t.jsonl")) as f:
            records = [json.loads(line) for line in f]
        sendto = [r for r in records if r["call"] == "sendto"]
        self.assertEqual(len(sendto), 1)
        self.assertEqual((sendto[0]["dev"], sendto[0]["host"], sendto[0]["len"], sendto[0]["result"],
                          sendto[0]["data"]), ("192.168.0.77:4444", "127.0.0.1:4444", 11, 11, "hello"))
        self.assertTrue(all(isinstance(r["t"], int) and isinstance(r["thread"], int) for r in records))
        # The board (the option's address) sends to the address the script named.
        self.assertEqual(pcap_datagrams(self.path("p.pcap")),
                         [("10.0.0.7", "192.168.0.77", 4444, b"hello board")])
        if shutil.which("tshark"):
            shown = subprocess.run(["tshark", "-r", self.path("p.pcap"), "-T", "fields", "-e", "udp.payload"],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(shown.stdout, b"hello board".hex() + "\n")

    def test_the_variables_and_the_device_ip_for_ifconfig(self):
        source = textwrap.dedent("""
            import network
            wlan = network.WLAN(mode=network.WLAN.STA)
            wlan.connect("home")
            print(wlan.ifconfig()[0])
            """).lstrip()
        status, out, _ = run_script(self, source, env=clean_env(UPYSOCK_DEVICE_IP="10.0.0.8",
                                                                UPYSOCK_TRACE=self.path("v.jsonl")))
        self.assertEqual((status, out), (0, "10.0.0.8\n"))
        self.assertTrue(os.path.exists(self.path("v.jsonl")))
        for bad in ("x", " 5", "+5"):
            status, out, err = run_script(self, source, "--trace-data", bad)
            self.assertEqual((status, out, err), (2, "", "upysock-run: ValueError: UPYSOCK_TRACE_DATA: a byte "
                                                          "count 0..4096 expected, not '%s'\n" % bad))
        status, out, err = run_script(self, source, "--device-ip", "10.0.0.300")
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, "upysock-run: ValueError: UPYSOCK_DEVICE_IP: a dotted quad expected, "
                              "not '10.0.0.300'\n")

    def test_ifconfig_moves_the_boards_address_in_the_pcap(self):
        source = textwrap.dedent("""
            import network, usocket
            wlan = network.WLAN(mode=network.WLAN.STA)
            wlan.ifconfig(config=('10.0.0.9', '255.255.255.0', '10.0.0.1', '10.0.0.1'))
            wlan.connect("home")
            print(wlan.ifconfig()[0])
            for bad in (('10.0.0.300', '255.255.255.0', '10.0.0.1', '10.0.0.1'), ('10.0.0.5',), 5):
                try:
                    wlan.ifconfig(config=bad)
                except ValueError as e:
                    print(e)
            print(wlan.ifconfig()[0])
            s = usocket.socket(usocket.AF_INET, usocket.SOCK_DGRAM)
            s.sendto(b'moved', ('192.168.0.77', 4444))
            s.close()
            """).lstrip()
        status, out, err = run_script(self, source, "--pcap", self.path("m.pcap"))
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(out, "10.0.0.9\n" + "invalid argument(s) value\n" * 3 + "10.0.0.9\n")
        self.assertEqual(pcap_datagrams(self.path("m.pcap")), [("10.0.0.9", "192.168.0.77", 4444, b"moved")])


@needs_build
class Tutorial3KeyLog(unittest.TestCase):
    def test_keylog_and_pcap_of_tutorial_3_decrypt_in_tshark(self):
        if not shutil.which("tshark"):
            self.skipTest("tshark is not installed (scripts/install-deps.sh installs it)")
        d = tempfile.mkdtemp(prefix="upysock-observe-")
        self.addCleanup(shutil.rmtree, d)
        pcap, keys = os.path.join(d, "t3.pcap"), os.path.join(d, "t3.keys")
        server = Proc(self, [c_example("tls_server")], log=True,
                      env=clean_env(UPYSOCK_REMAP="192.168.0.234:6543=127.0.0.1:0", UPYSOCK_FLASH=FLASH))
        port = server.listen_port()
        status, out, _ = run(runner_cmd("--exit-when-idle", "--pcap", pcap, "--keylog", keys,
                                        py_example("tutorial3_ssl_client_fixed.py")),
                             env=clean_env(UPYSOCK_REMAP=f"192.168.0.234:6543=127.0.0.1:{port}", UPYSOCK_FLASH=FLASH))
        server.stop()
        self.assertEqual(status, 0)
        follow = lambda *opts: subprocess.run(["tshark", "-r", pcap, *opts, "-q", "-z", "follow,tls,ascii,0"],
                                              capture_output=True, text=True, timeout=60).stdout
        self.assertNotIn("Data to send", follow())
        self.assertIn("Data to send", follow("-o", f"tls.keylog_file:{keys}"))


if __name__ == "__main__":
    unittest.main()
