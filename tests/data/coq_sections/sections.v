(* Lemmas inside a section, about the section's own definition: their goals show the section variables. *)
Require Import List.

Section Maps.
Variables A B : Type.
Variable f : A -> list B.

Definition fm (l : list A) : list B := flat_map f l.

Lemma fm_nil : fm nil = nil.
Proof. reflexivity. Qed.

Lemma fm_cons : forall a l, fm (a :: l) = f a ++ fm l.
Proof. intros a l. reflexivity. Qed.
End Maps.
