"""File-level helpers shared by every format: checked raster opening and windows (:mod:`.raster`), zip archives
(:mod:`.archive`) and folder listings (:mod:`.members`), safe XML parsing and building (:mod:`.xmldoc`), JSON read
within limits (:mod:`.jsondoc`), atomic outputs (:mod:`.atomic`: temporary sibling, fsync, rename, one overwrite
policy) and the Cloud-Optimised GeoTIFF writer (:mod:`.cog`). Nothing here knows a product format."""
