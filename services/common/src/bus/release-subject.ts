/**
 * The live subject a keys replica hears Releases on for the reservations it
 * holds: Releases that reached another replica, and calls the router settles
 * because their caller gave up on them.
 */
export const releaseSubject = (holder: string) => `keys.release.${holder}`;
