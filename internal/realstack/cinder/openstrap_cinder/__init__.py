"""A Cinder volume driver for realstack: no storage behind it.

cinder-volume runs with ``volume_driver = openstrap_cinder.FakeVolumeDriver``
and this directory on its PYTHONPATH. The driver is Cinder's own
``cinder.tests.fake_driver.FakeLoggingVolumeDriver`` (what devstack's
functional jobs use: every call is logged, nothing is stored, connections are
fake), with three changes for a test cloud:

- images are not copied into volumes (the LVM parent would write to
  /dev/mapper/...): a volume made from an image is only recorded so
  (Cinder still copies the image's metadata and marks it bootable);
- volumes are not copied into images;
- the backend (and its one pool, of infinite capacity) is named after the
  backend section's volume_backend_name, not "fake".
"""

from cinder.tests import fake_driver


class FakeVolumeDriver(fake_driver.FakeLoggingVolumeDriver):
    """FakeLoggingVolumeDriver without image copies, named by its config."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        name = self.configuration.safe_get("volume_backend_name")
        if name:
            self.backend_name = name

    def copy_image_to_volume(self, context, volume, image_service, image_id):
        """Nothing to write: the volume has no storage."""

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        """Nothing to read: the volume has no storage."""
