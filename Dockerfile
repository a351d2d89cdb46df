# upysock in a container: the library built, tested and installed on Debian 12.
#
#   docker build -t upysock .                      # a failing test fails the build
#   docker run --rm upysock                        # the tutorial demo on the container's loopback
#   docker run --rm upysock ./scripts/test.sh      # the test suite again
#
# The library is installed under /usr/local, so an image FROM this one can find_package(upysock)
# or use pkg-config. README.md ("Docker") shows how to mount a program and its /flash.
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
 && ldconfig

CMD ["./scripts/demo.sh", "--no-install", "--no-build"]
