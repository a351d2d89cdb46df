"""The board's hardware modules, as far as a networking script needs them: network (WLAN),
machine and pycom. There is no radio here: WLAN connects at once, and its address is the
board's address on the virtual LAN (--device-ip / UPYSOCK_DEVICE_IP).

Names and values from the firmware (tag v1.20.2.r6): esp32/mods/modwlan.c (WLAN.STA = 1,
AP = 2, STA_AP = 3; WEP = 1, WPA = 2, WPA2 = 3, WPA2_ENT = 5), esp32/mods/modpycom.c (rgbled, nvs_*
errors and their messages).
"""
import collections
import json
import os
import random
import threading
import time
import types

from upysock.flash import NVS_FILE

MAC = bytes.fromhex("240ac4" "0ab9fe")    # an Espressif OUI, as every Pycom board has
AP_ADDR = "192.168.4.1"                    # the board's own access point
NOT_POSSIBLE = "the requested operation is not possible"  # esp32/util/mpexception.c
MacAddrs = collections.namedtuple("MacAddrs", "sta_mac ap_mac")


class WLAN:
    """network.WLAN with Pycom's API, for a board that joins the virtual LAN when asked."""
    STA, AP, STA_AP = 1, 2, 3
    WEP, WPA, WPA2, WPA2_ENT = 1, 2, 3, 5
    INT_ANT, EXT_ANT, MAN_ANT = 0, 1, 2
    _device_ip = None
    _set_device_ip = None  # the library's setting: the pcap's board address follows ifconfig
    _state = {"mode": AP, "connected": False, "ssid": None, "auth": None}

    def __init__(self, id=0, mode=None, **kwargs):
        if mode is not None:
            self.init(mode, **kwargs)

    def init(self, mode=AP, *, ssid=None, auth=None, channel=1, antenna=None, **kwargs):
        if mode not in (self.STA, self.AP, self.STA_AP):
            raise ValueError("invalid argument(s) value")
        self._state.update(mode=mode, connected=False)

    deinit = disconnect = lambda self: self._state.update(connected=False)

    def mode(self, mode=None):
        if mode is None:
            return self._state["mode"]
        self.init(mode)
        return None

    def connect(self, ssid, auth=None, *, bssid=None, timeout=None, **kwargs):
        if self._state["mode"] == self.AP:
            raise OSError(NOT_POSSIBLE)
        self._state.update(connected=True, ssid=ssid, auth=auth)

    def isconnected(self):
        return self._state["connected"]

    def ifconfig(self, id=0, config=None):
        if config is not None:
            if config != "dhcp":
                if not isinstance(config, (tuple, list)) or len(config) != 4:
                    raise ValueError("invalid argument(s) value")
                try:
                    WLAN._set_device_ip(config[0])
                except (ValueError, TypeError):
                    raise ValueError("invalid argument(s) value") from None
                WLAN._device_ip = config[0]
            return None
        if id == 1 or self._state["mode"] == self.AP:
            return (AP_ADDR, "255.255.255.0", AP_ADDR, AP_ADDR)
        gateway = self._device_ip.rsplit(".", 1)[0] + ".1"
        if not self._state["connected"]:
            return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        return (self._device_ip, "255.255.255.0", gateway, gateway)

    def ssid(self, ssid=None):
        return self._state["ssid"]

    def auth(self, auth=None):
        return self._state["auth"]

    def mac(self):
        return MacAddrs(MAC, MAC[:-1] + bytes([MAC[-1] + 1]))

    def scan(self):
        return []

    def channel(self, channel=None):
        return 1

    def antenna(self, antenna=None):
        return self.INT_ANT


def make_network(device_ip, set_device_ip):
    """network, its WLAN at device_ip; set_device_ip(ip) moves the library's board address."""
    WLAN._device_ip = device_ip
    WLAN._set_device_ip = staticmethod(set_device_ip)
    m = types.ModuleType("network")
    m.WLAN = WLAN
    return m


def make_machine(soft_reset):
    """machine: reset() soft-resets (every device socket closed, the run ends with status 0)."""
    m = types.ModuleType("machine")
    m.__dict__.update(
        PWRON_RESET=0, HARD_RESET=1, WDT_RESET=2, DEEPSLEEP_RESET=3, SOFT_RESET=4, BROWN_OUT_RESET=5,
        unique_id=lambda: MAC,
        reset=soft_reset,
        idle=lambda: time.sleep(0.001),
        freq=lambda: 160000000,
        reset_cause=lambda: 0,
        rng=lambda: random.getrandbits(24),
    )
    return m


class Nvs:
    """pycom.nvs_*: integers and strings kept in <flash>/.upysock-nvs.json (survive runs)."""

    def __init__(self, flash_dir):
        self.path = os.path.join(flash_dir, NVS_FILE)
        self.lock = threading.Lock()

    def _load(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def _store(self, data):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(self.path + ".tmp", self.path)

    def set(self, key, value):
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode()
        if isinstance(value, str):
            if len(value) >= 1984:
                raise ValueError("value too long (max: 1984)")
        elif isinstance(value, int):
            value &= 0xFFFFFFFF
        else:
            raise ValueError("Value must be string, bytes or integer")
        with self.lock:
            data = self._load()
            data[str(key)] = value
            self._store(data)

    def get(self, key, *default):
        with self.lock:
            data = self._load()
        if key in data:
            return data[key]
        if default:
            return default[0]
        raise ValueError("No matching object for the provided key")

    def erase(self, key):
        with self.lock:
            data = self._load()
            if key not in data:
                raise KeyError("key not found")
            del data[key]
            self._store(data)

    def erase_all(self):
        with self.lock:
            self._store({})


def make_pycom(flash_dir):
    m = types.ModuleType("pycom")
    nvs = Nvs(flash_dir)
    led = {"heartbeat": True, "rgb": 0}

    def heartbeat(on=None):
        if on is None:
            return led["heartbeat"]
        led["heartbeat"] = bool(on)
        return None

    def rgbled(color=None):
        if led["heartbeat"]:
            raise OSError(NOT_POSSIBLE)
        if color is None:
            return led["rgb"]
        led["rgb"] = color & 0xFFFFFF
        return None

    m.__dict__.update(
        heartbeat=heartbeat,
        heartbeat_on_boot=lambda on=None: True if on is None else None,
        rgbled=rgbled,
        nvs_set=nvs.set,
        nvs_get=nvs.get,
        nvs_erase=nvs.erase,
        nvs_erase_all=nvs.erase_all,
        wifi_on_boot=lambda on=None, now=None: True if on is None else None,
    )
    return m
