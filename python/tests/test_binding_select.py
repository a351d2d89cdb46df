"""uselect through the binding: poll() hands back the registered object itself, the board's
errors, select(), ipoll(), and the GIL released while waiting."""
import gc
import unittest

from bindutil import DeviceTest, u, uselect


class Poll(DeviceTest):
    def test_poll_returns_the_registered_object_itself(self):
        c, a = self.pair()
        p = uselect.poll()
        p.register(c, uselect.POLLOUT)
        events = p.poll(1000)
        self.assertEqual(len(events), 1)
        self.assertIs(type(events), list)
        self.assertIs(type(events[0]), tuple)
        self.assertIs(events[0][0], c)
        self.assertEqual(events[0][1], uselect.POLLOUT)
        events[0][0].close()  # what the tutorials do with t[0]
        self.assertEqual(c.fileno(), -1)

    def test_only_requested_events_and_the_default_mask(self):
        c, a = self.pair()
        p = uselect.poll()
        p.register(a)  # POLLIN | POLLOUT
        c.send(b"x")
        self.assertEqual(p.poll(1000), [(a, uselect.POLLIN | uselect.POLLOUT)])
        p.modify(a, uselect.POLLIN)
        self.assertEqual(p.poll(1000), [(a, uselect.POLLIN)])
        p.unregister(a)
        self.assertEqual(p.poll(0), [])

    def test_the_poll_object_keeps_a_registered_socket_alive(self):
        c, a = self.pair()
        self.sockets.remove(a)
        p = uselect.poll()
        p.register(a, uselect.POLLIN)
        a_id = id(a)
        del a
        gc.collect()
        c.send(b"x")
        [(obj, ev)] = p.poll(1000)
        self.assertEqual((id(obj), ev), (a_id, uselect.POLLIN))
        self.assertEqual(obj.recv(1), b"x")
        obj.close()

    def test_oneshot_disarms_until_modify(self):
        c, a = self.pair()
        p = uselect.poll()
        p.register(c, uselect.POLLOUT)
        self.assertEqual(p.poll(0, 1), [(c, uselect.POLLOUT)])
        self.assertEqual(p.poll(0), [])
        p.modify(c, uselect.POLLOUT)
        self.assertEqual(p.poll(0), [(c, uselect.POLLOUT)])

    def test_ipoll_yields_pairs_with_the_registered_object(self):
        c, a = self.pair()
        p = uselect.poll()
        p.register(c, uselect.POLLOUT)
        it = p.ipoll(1000)
        self.assertIs(it, p)
        self.assertEqual(list(it), [(c, uselect.POLLOUT)])

    def test_ipoll_one_shot_disarms_only_what_was_yielded(self):
        c, a = self.pair()
        d, b = self.pair()
        p = uselect.poll()
        p.register(c, uselect.POLLOUT)
        p.register(d, uselect.POLLOUT)
        first_obj, _ = next(p.ipoll(0, 1))
        left = d if first_obj is c else c
        self.assertEqual(p.poll(0), [(left, uselect.POLLOUT)])  # the pair not yet yielded stays armed

    def test_the_boards_errors(self):
        p = uselect.poll()
        with self.assertRaises(OSError) as cm:
            p.register(object())
        self.assertOSError(cm, "stream operation not supported", "stream operation not supported")
        with self.assertRaises(OSError) as cm:
            p.modify(self.sock(), uselect.POLLIN)
        self.assertOSError(cm, 2, "[Errno 2] ENOENT")
        self.assertIsNone(p.unregister(self.sock()))  # not registered: ignored
        with self.assertRaises(TypeError) as ct:
            p.poll(1.5)
        self.assertEqual(str(ct.exception), "can't convert float to int")
        with self.assertRaises(TypeError):
            p.register(self.sock(), "1")
        self.assertEqual(type(p).__name__, "poll")

    def test_poll_releases_the_gil(self):
        c, a = self.pair()
        p = uselect.poll()
        p.register(a, uselect.POLLIN)
        result = self.assertReleasesGil(lambda: p.poll(5000), lambda: c.send(b"x"))
        self.assertEqual(result, [(a, uselect.POLLIN)])

    def test_an_idle_poll_times_out_with_an_empty_list(self):
        c, a = self.pair()
        p = uselect.poll()
        p.register(a, uselect.POLLIN)
        self.assertEqual(p.poll(10), [])


class Select(DeviceTest):
    def test_select_returns_the_objects_given(self):
        c, a = self.pair()
        c.send(b"x")
        r, w, x = uselect.select([a, c], (c,), [a], 1)
        self.assertEqual((r, w, x), ([a], [c], []))
        self.assertIs(r[0], a)

    def test_select_times_out_and_takes_none(self):
        c, a = self.pair()
        self.assertEqual(uselect.select([a], [], [], 0.01), ([], [], []))
        c.send(b"x")
        self.assertEqual(uselect.select([a], [], [], None), ([a], [], []))

    def test_select_wants_tuples_or_lists_of_streams(self):
        with self.assertRaises(TypeError) as ct:
            uselect.select("abc", [], [])
        self.assertEqual(str(ct.exception), "object 'str' isn't a tuple or list")
        with self.assertRaises(OSError) as cm:
            uselect.select([1], [], [], 0)
        self.assertOSError(cm, "stream operation not supported", "stream operation not supported")


if __name__ == "__main__":
    unittest.main()
