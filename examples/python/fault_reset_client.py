# Testing an error path: a client of the tutorial 1 server whose connection is reset before the
# answer arrives. Run it with the fault given from outside:
#   python3 -m upysock --faults 'reset *:6543 after=0 dir=recv' fault_reset_client.py
# and it prints the board's answers: [Errno 104] ECONNRESET (sticky), poll 17 (POLLIN|POLLHUP).
import usocket
import uselect

s = usocket.socket()
s.connect(('192.168.0.249', 6543))
s.send(b'Data to send')
for attempt in range(2):
    try:
        print(s.recv(12))
    except OSError as e:
        print(e)
    if attempt == 0:
        p = uselect.poll()
        p.register(s, uselect.POLLIN | uselect.POLLHUP)
        print('poll:', p.poll(1000)[0][1])
