/**
 * age keys as text (https://age-encryption.org/v1): the checks the configuration makes at load
 * time and the age module makes before use, without loading any cryptography. Nothing here ever
 * puts a secret key into a message.
 */

// Bech32 (BIP 173), the encoding of age keys: the checksum catches a mistyped key at once.
const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
const BECH32_GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]

function bech32ChecksumHolds(text: string): boolean {
  const lower = text.toLowerCase()
  const separator = lower.lastIndexOf('1')
  const prefix = lower.slice(0, separator)
  const values = [...prefix].map((char) => char.charCodeAt(0) >> 5)
  values.push(0, ...[...prefix].map((char) => char.charCodeAt(0) & 31))
  for (const char of lower.slice(separator + 1)) values.push(BECH32_CHARSET.indexOf(char))
  let checksum = 1
  for (const value of values) {
    const top = checksum >>> 25
    checksum = ((checksum & 0x1ffffff) << 5) ^ value
    BECH32_GENERATOR.forEach((generator, bit) => {
      if ((top >>> bit) & 1) checksum ^= generator
    })
  }
  return checksum === 1
}

/** An X25519 recipient: `age1` and 58 bech32 characters (32 bytes and the checksum). */
const RECIPIENT = /^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/
const SECRET_KEY = /^AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}$/

/** A secret key line of an identity file (AGE-SECRET-KEY-1…), its checksum included. */
export function isSecretKey(text: string): boolean {
  return SECRET_KEY.test(text) && bech32ChecksumHolds(text)
}

/**
 * What is wrong with a recipient (`which` names it in the message: "age recipient 2"), or
 * undefined when it is an X25519 public key with a valid checksum. A secret key given as a
 * recipient is never shown.
 */
export function recipientProblem(recipient: string, which: string): { message: string; shown?: string } | undefined {
  if (/^AGE-SECRET-KEY-/i.test(recipient))
    return { message: `${which} is a secret key, not a public key: give its public key (age-keygen -y <identity file>) and keep the secret key off this host` }
  if (!RECIPIENT.test(recipient)) {
    const shown = recipient.length > 80 ? `${recipient.slice(0, 80)}…` : recipient
    return { message: `${which} "${shown}" is not an age public key: one is "age1" and 58 lowercase letters and digits (age-keygen prints it)`, shown }
  }
  if (!bech32ChecksumHolds(recipient))
    return { message: `${which} "${recipient}" has a wrong checksum: a character is mistyped; copy the key again`, shown: recipient }
  return undefined
}
