"""Speech corpora in the LibriSpeech layout: reading, downloading, splitting, synthesising."""
