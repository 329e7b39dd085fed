/** How many albums are remembered; an album's parts arrive within seconds of each other. */
const MAX_REMEMBERED = 1000;

/**
 * The albums (one `media_group_id`, several messages) already answered, so an album of ten
 * photos gets one "text only" reply, not ten. In memory and bounded: after a restart an album
 * half answered may get a second reply, which is harmless.
 */
export class AnsweredAlbums {
  private readonly seen = new Set<string>();

  /** True the first time this album is seen in this chat. */
  first(chatId: number, mediaGroupId: string): boolean {
    const key = `${chatId}:${mediaGroupId}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.values().next().value!);
    return true;
  }
}
