import KimeraModels

/// Splits text into the tokens every Kimera algorithm works on: lower-cased runs of Unicode letters and
/// decimal digits (docs/DOMAIN.md "Embedding"). Everything else separates tokens, so "don't" is "don", "t".
public enum Tokenizer {
    /// The tokens of `text`, in order, stop words included.
    public static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        for character in text {
            if isTokenCharacter(character) {
                current.append(character)
            } else if !current.isEmpty {
                tokens.append(current.lowercased())
                current = ""
            }
        }
        if !current.isEmpty { tokens.append(current.lowercased()) }
        return tokens
    }

    /// The tokens of `text` that are not stop words: what semantic features are made of.
    public static func contentTokens(_ text: String) -> [String] {
        tokens(text).filter { !StopWords.english.contains($0) }
    }

    /// A character belongs to a token when its base scalar is a letter (any script) or a decimal digit;
    /// combining marks ride along because a `Character` is a whole grapheme cluster.
    static func isTokenCharacter(_ character: Character) -> Bool {
        guard let scalar = character.unicodeScalars.first else { return false }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
    }
}

/// The small English stop-word list dropped from semantic features (never from the embedding).
/// Changing it changes every text-form geoid created afterwards, so it is fixed here, in one place.
public enum StopWords {
    public static let english: Set<String> = [
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at",
        "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
        "can", "could", "d", "did", "do", "does", "doing", "down", "during",
        "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers",
        "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "ll", "m", "me", "more", "most",
        "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out",
        "over", "own", "re", "s", "same", "she", "should", "so", "some", "such", "t", "than", "that", "the",
        "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too",
        "under", "until", "up", "ve", "very", "was", "we", "were", "what", "when", "where", "which", "while",
        "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
    ]
}
