# upysock in a container: the library built, tested and installed on Debian 12.
#
#   docker build -t upysock .                      # a failing test fails the build
#   docker run --rm upysock                        # the tutorial demo on the container's loopback
#   docker run --rm upysock ./scripts/test.sh      # the test suite again
#   docker run --rm -v $PWD:/app upysock python3 -m upysock /app/main.py   # a device script
#
# The library is installed under /usr/local, so an image FROM this one can find_package(upysock)
# or use pkg-config; the Python front (python3-dev is among the dependencies) is installed there
# too: /usr/bin/python3 finds the upysock package, and upysock-run is on PATH. README.md ("Docker") shows how to mount a program and its /flash.
FROM debian:bookworm

# Build and test dependencies from Debian's packages: the one list in scripts/install-deps.sh.
COPY scripts/install-deps.sh /src/upysock/scripts/install-deps.sh
RUN /src/upysock/scripts/install-deps.sh \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src/upysock
COPY . .

# Build with warnings as errors and run the whole suite (scripts/test.sh), then install.
RUN ./scripts/test.sh --no-install \
 && cmake --install build \
 && ldconfig \
 && cd / && python3 -m upysock --help >/dev/null && upysock-run --help >/dev/null

CMD ["./scripts/demo.sh", "--no-install", "--no-build"]
