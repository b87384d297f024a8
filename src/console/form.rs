//! HTML form bodies (`application/x-www-form-urlencoded`), where a field may repeat (one
//! `permission` per ticked checkbox).

/// The fields of one submitted form, in order.
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn parse(body: &[u8]) -> FormFields {
        FormFields(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, or "" when the field is missing.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::FormFields;

    #[test]
    fn repeated_fields_are_all_kept() {
        let form =
            FormFields::parse(b"name=ci+bot&permission=objects.read&permission=objects.write");
        assert_eq!(form.get("name"), "ci bot");
        assert_eq!(
            form.all("permission"),
            vec!["objects.read", "objects.write"]
        );
        assert_eq!(form.get("missing"), "");
    }
}
