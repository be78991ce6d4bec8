"""The lab's side of lab images: find its cached image, load it into the skeleton, or save it.

A mixin of :class:`simlab.lab.Lab`; the image itself (format, checks, what it holds) lives in
:mod:`simlab.image`, the cache folder in :mod:`simlab.image_cache` (docs/images.md).
"""

from __future__ import annotations

from typing import Any, NoReturn

from simlab.progress import BuildProgress


class ImageUnusable(Exception):
    """The cached image did not fit the rebuilt skeleton: build the lab the long way."""


class LabImages:
    """Image handling of a lab (needs ``spec``, ``dc`` and the cache settings ``Lab`` keeps)."""

    spec: Any
    dc: Any
    cache_status: str
    cache_message: str
    image_save: Any
    _cache: bool
    _apply_faults: bool
    _save_in_background: bool | str
    _progress: BuildProgress

    def _lookup_image(self, *, load: bool) -> Any:
        """The cache's answer for this spec (None when the cache is off); ``load=False`` only
        names the file, so the build that follows overwrites it."""
        from simlab import image_cache

        if not self._cache or image_cache.disabled_by_env():
            self.cache_status = "off"
            return None
        from simlab.image_file import image_key

        key = image_key(self.spec, apply_faults=self._apply_faults)
        if not load:
            return image_cache.Lookup(key, image_cache.image_path(key))
        self._progress.phase("Reading the lab image")
        found = image_cache.lookup(key)
        self.cache_status, self.cache_message = found.status, found.message
        return found

    def _finish_image(self, found: Any) -> None:
        """After the build: save a cold build's image (in a forked child when the lab allows it),
        or install the image into the skeleton just built."""
        from simlab import image_cache
        from simlab.image import ImageError, apply_image

        if found.data is None:
            from simlab.image_saver import in_flight, save_in_background, wanted

            if in_flight(found.key) is not None:
                # An earlier lab of this spec, released by its test, is still writing this very
                # image: a second writer would only race it to the same file.
                self.cache_message = "simlab: this lab's image is being saved by an earlier build"
                return
            if wanted(self, self._save_in_background):
                self.image_save = save_in_background(self, found.key)
                return
            self._progress.phase("Saving the lab image")
            image_cache.store(self, found.key)
            return
        self._progress.phase("Loading the lab image")
        try:
            apply_image(self, found.data)
        except ImageError as exc:
            self._reject_image(found, exc)

    def _take_accounts(self, found: Any) -> None:
        """Name a bare DC's Administrator and connector account as the image does, before it is
        served: its endpoints and the Connect server's directory connection carry them."""
        from simlab.image import ImageError, saved_accounts

        try:
            accounts = saved_accounts(found.data)
        except ImageError as exc:
            self._reject_image(found, exc)
        dc = self.dc
        dc.admin_dn, dc.admin_password, dc.connector_dn, dc.connector_password = accounts

    def _reject_image(self, found: Any, exc: Exception) -> NoReturn:
        from simlab import image_cache

        self.cache_status = "rejected"
        self.cache_message = f"simlab: lab image rejected ({exc}); rebuilding the lab"
        image_cache.log.warning(self.cache_message)
        found.path.unlink(missing_ok=True)
        raise ImageUnusable from exc


__all__ = ["ImageUnusable", "LabImages"]
