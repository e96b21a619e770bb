# The hivecheck emulator image, built without any registry: `scratch` (built into Docker) plus
# one statically linked binary. Build it with docker/build-emulator-image.sh.
#
#   docker run --rm -p 9000:9000 hivecheck-emulator:local                        # TheHive 4 + Cortex
#   docker run --rm hivecheck-emulator:local --role cortex --bind 0.0.0.0:9001    # Cortex API only
FROM scratch
COPY hivecheck /hivecheck
# The emulator only listens on unprivileged ports and writes no file: it runs as `nobody`.
USER 65534:65534
# No EXPOSE: one image plays TheHive (9000) or Cortex (9001), and whoever runs it publishes
# the one port the role listens on (`-p`, or testcontainers). Exposing both made Docker
# publish the unused one as well, under the same host port on IPv6.
ENTRYPOINT ["/hivecheck", "emulate"]
CMD ["--bind", "0.0.0.0:9000"]
